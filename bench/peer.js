'use strict';
// The second process of the cross-process workloads (bench/workload.js
// xproc-*, idle), the same implementation as the parent — pipewrap's net
// layer for pipewrap, node:net for node, as in examples/brother-process:
//
//   node bench/peer.js <pipewrap|node> echo <socketPath>
//     echo server; prints `ready`, then for each connection that closes one
//     JSON line { cpu }: this process's CPU time (µs) from the connection's
//     first byte to its end.
//   node bench/peer.js <pipewrap|node> sink <socketPath> <bytes>
//     sink server: reads <bytes>, answers 'K'; prints `ready`, then { cpu }.
//   node bench/peer.js <pipewrap|node> raw-sink <socketPath> <bytes>
//     the sink on the bare binding (pipewrap's Pipe or Node's internal
//     pipe_wrap Pipe): counts the bytes of each read, nothing else.
//   node bench/peer.js <pipewrap|node> clients <socketPath> <clients> <perClient>
//     <clients> connections to the parent's echo server; prints `ready` once
//     all are connected, waits for `go` on stdin, then each runs <perClient>
//     64-byte request/response round trips; prints { cpu } when all are done.
//   node bench/peer.js <pipewrap|node> idle-clients <socketPath> <count>
//     prints `ready`, waits for `go`, opens <count> idle connections, prints
//     { bytes } (RSS growth after GC), keeps them open until killed.
//
// Control is over stdio (lines), never over the implementation under test.
const [implName, role, sockPath, ...rest] = process.argv.slice(2);
const impl = implName === 'pipewrap' ? require('..') : require('node:net');

const say = (line) => process.stdout.write((typeof line === 'string' ? line : JSON.stringify(line)) + '\n');
const cpuSince = (c0) => {
  const { user, system } = process.cpuUsage(c0);
  return user + system;
};
const onStdinLine = (want, cb) => {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (d) => {
    buf += d;
    if (buf.split('\n').includes(want)) {
      buf = '';
      cb();
    }
  });
};
// The parent's death (or its closing our stdin) ends us.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

const roles = {
  echo() {
    const server = impl.createServer((s) => {
      let c0 = null;
      s.on('data', (d) => {
        if (c0 === null) c0 = process.cpuUsage();
        s.write(d);
      });
      s.on('error', () => {});
      s.on('close', () => say({ cpu: c0 === null ? 0 : cpuSince(c0) }));
    });
    server.listen(sockPath, () => say('ready'));
  },

  // The binding alone (no net layer): pipewrap's Pipe or Node's internal
  // pipe_wrap Pipe, echoing every read; prints `ready`, then { cpu } when
  // the connection ends.
  'raw-echo'() {
    const { WriteWrap, streamBaseState } = rawBinding();
    const server = rawServer((h) => {
      let c0 = null;
      h.onread = (ab) => {
        if (!ab) {
          say({ cpu: c0 === null ? 0 : cpuSince(c0) });
          h.close();
          server.close();
          return;
        }
        if (c0 === null) c0 = process.cpuUsage();
        h.writeBuffer(new WriteWrap(), Buffer.from(ab, streamBaseState[1], streamBaseState[0]));
      };
      h.readStart();
    });
    say('ready');
  },

  'raw-sink'() {
    const total = Number(rest[0]);
    const { WriteWrap, streamBaseState } = rawBinding();
    rawServer((h) => {
      let c0 = null;
      let n = 0;
      h.onread = (ab) => {
        if (!ab || n >= total) return; // the sender may overshoot: answer once
        if (c0 === null) c0 = process.cpuUsage();
        n += streamBaseState[0];
        if (n >= total) {
          h.writeBuffer(new WriteWrap(), Buffer.from('K'));
          say({ cpu: cpuSince(c0) });
        }
      };
      h.readStart();
    });
    say('ready');
  },

  sink() {
    const total = Number(rest[0]);
    const server = impl.createServer((s) => {
      let c0 = null;
      let n = 0;
      s.on('data', (d) => {
        if (c0 === null) c0 = process.cpuUsage();
        n += d.length;
        if (n >= total) {
          s.end('K');
          say({ cpu: cpuSince(c0) });
        }
      });
      s.on('error', () => {});
    });
    server.listen(sockPath, () => say('ready'));
  },

  clients() {
    const clients = Number(rest[0]);
    const perClient = Number(rest[1]);
    const msg = Buffer.alloc(64, 98);
    const socks = [];
    let ready = 0;
    let done = 0;
    let c0;
    for (let i = 0; i < clients; i++) {
      const c = impl.connect(sockPath, () => {
        if (++ready === clients) {
          say('ready');
          onStdinLine('go', () => {
            c0 = process.cpuUsage();
            for (const s of socks) s.write(msg);
          });
        }
      });
      c.on('error', (err) => {
        console.error(`peer clients: ${err.message}`);
        process.exit(1);
      });
      socks.push(c);
      let left = perClient;
      let got = 0;
      c.on('data', (d) => {
        got += d.length;
        while (got >= 64) {
          got -= 64;
          if (--left === 0) {
            if (++done === clients) say({ cpu: cpuSince(c0) });
            return;
          }
          c.write(msg);
        }
      });
    }
  },

  'idle-clients'() {
    const count = Number(rest[0]);
    const gc = globalThis.gc || (() => {});
    const socks = [];
    say('ready');
    onStdinLine('go', () => {
      gc();
      const before = process.memoryUsage().rss;
      let ready = 0;
      const open = (i) => {
        if (i === count) return;
        const c = impl.connect(sockPath, () => {
          if (++ready === count) {
            gc();
            setTimeout(() => {
              gc();
              say({ bytes: (process.memoryUsage().rss - before) / count });
            }, 100);
          }
        });
        c.on('error', (err) => {
          console.error(`peer idle-clients: ${err.message}`);
          process.exit(1);
        });
        socks.push(c);
        setImmediate(() => open(i + 1));
      };
      open(0);
    });
  },
};

// The binding of this implementation: pipewrap's, or Node's internal one.
const rawBinding = () => require('./common').rawBinding(implName);

// A listening bare-binding Pipe on sockPath; onHandle(h) per connection.
function rawServer(onHandle) {
  const { Pipe, constants } = rawBinding();
  const server = new Pipe(constants.SERVER);
  server.bind(sockPath);
  server.listen(16);
  server.onconnection = (status, h) => onHandle(h);
  return server;
}

if (!roles[role]) {
  console.error(`unknown role ${role}; have: ${Object.keys(roles).join(', ')}`);
  process.exit(2);
}
roles[role]();
