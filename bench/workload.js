'use strict';
// One benchmark workload in one fresh process:
//   node bench/workload.js <pipewrap|node> <workload> [scale]
// Both ends of every connection use the same implementation. Prints one JSON
// line: { value, unit }. bench/run.js alternates implementations and rounds.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const [implName, workload, scaleArg] = process.argv.slice(2);
const scale = Number(scaleArg || 1);
const impl = implName === 'pipewrap' ? require('..') : require('node:net');
const forkImpl = implName === 'pipewrap' ? require('..').fork : require('node:child_process').fork;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwb-'));
const sockPath = path.join(dir, 'b.sock');
const now = () => process.hrtime.bigint();
const seconds = (t0) => Number(now() - t0) / 1e9;
// The measured window starts here: wall clock, and this process's CPU time
// (user + system; for ipc-* that is the parent, the side under test).
let window = null;
function start() {
  window = { t0: now(), cpu: process.cpuUsage() };
  return window.t0;
}

// Reports the rate and, when a window was started, the CPU time this process
// spent per operation in it (microseconds): less noisy than the rate on a
// shared machine, since waiting for a busy neighbour costs no CPU here.
function finish(value, unit, extra = {}) {
  if (window) {
    const wall = seconds(window.t0);
    const { user, system } = process.cpuUsage(window.cpu);
    extra = { cpuPerOp: (user + system) / (value * wall), ...extra };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  process.stdout.write(JSON.stringify({ value, unit, ...extra }) + '\n');
  process.exit(0);
}

function echoServer(cb) {
  const server = impl.createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('error', () => {});
  });
  server.listen(sockPath, () => cb(server));
}

const workloads = {
  pingpong() {
    const rounds = Math.round(20000 * scale);
    const msg = Buffer.alloc(64, 97);
    echoServer(() => {
      const c = impl.connect(sockPath, () => {
        let left = rounds;
        let got = 0;
        const t0 = start();
        c.on('data', (d) => {
          got += d.length;
          if (got < 64) return;
          got -= 64;
          if (--left === 0) return finish(rounds / seconds(t0), 'round trips/s');
          c.write(msg);
        });
        c.write(msg);
      });
    });
  },

  bulk() {
    const total = Math.round(512 * 1024 * 1024 * scale);
    const chunk = Buffer.alloc(64 * 1024, 120);
    let t0;
    const server = impl.createServer((s) => {
      let n = 0;
      s.on('data', (d) => {
        n += d.length;
        if (n >= total) s.end('K');
      });
    });
    server.listen(sockPath, () => {
      const c = impl.connect(sockPath, () => {
        t0 = start();
        let sent = 0;
        const pump = () => {
          while (sent < total) {
            sent += chunk.length;
            if (!c.write(chunk)) return c.once('drain', pump);
          }
        };
        pump();
      });
      c.on('data', () => finish(total / 1e6 / seconds(t0), 'MB/s'));
    });
  },

  connect() {
    const count = Math.round(3000 * scale);
    const server = impl.createServer((s) => s.destroy());
    server.listen(sockPath, () => {
      let left = count;
      const t0 = start();
      const one = () => {
        const c = impl.connect(sockPath);
        c.on('connect', () => c.destroy());
        c.on('error', () => {});
        c.on('close', () => (--left === 0 ? finish(count / seconds(t0), 'connections/s') : one()));
      };
      one();
    });
  },

  fanin() {
    const clients = 200;
    const perClient = Math.max(1, Math.round(50 * scale));
    const msg = Buffer.alloc(64, 98);
    echoServer(() => {
      let done = 0;
      let ready = 0;
      let t0;
      const socks = [];
      for (let i = 0; i < clients; i++) {
        const c = impl.connect(sockPath, () => {
          socks.push(c);
          if (++ready === clients) {
            t0 = start();
            for (const s of socks) s.write(msg);
          }
        });
        let left = perClient;
        let got = 0;
        c.on('data', (d) => {
          got += d.length;
          while (got >= 64) {
            got -= 64;
            if (--left === 0) {
              if (++done === clients) finish((clients * perClient) / seconds(t0), 'messages/s');
              return;
            }
            c.write(msg);
          }
        });
      }
    });
  },

  'ipc-oneway'() {
    const count = Math.round(50000 * scale);
    const child = forkImpl(path.join(__dirname, 'ipc-child.js'), ['oneway', String(count)]);
    child.on('message', (m) => {
      if (m === 'ready') {
        const t0 = start();
        child.once('message', (m2) => {
          if (m2 !== 'done') throw new Error('bad reply');
          const s = seconds(t0);
          child.kill();
          finish(count / s, 'messages/s');
        });
        for (let i = 0; i < count; i++) child.send({ i, kind: 'tick', payload: 'abcdefgh' });
      }
    });
  },

  'ipc-echo'() {
    const count = Math.round(20000 * scale);
    const child = forkImpl(path.join(__dirname, 'ipc-child.js'), ['echo', '0']);
    child.on('message', (m) => {
      if (m === 'ready') {
        let left = count;
        const t0 = start();
        child.on('message', () => {
          if (--left === 0) {
            const s = seconds(t0);
            child.kill();
            return finish(count / s, 'round trips/s');
          }
          child.send({ n: left });
        });
        child.send({ n: left });
      }
    });
  },

  // The in-Node floor of ipc-echo: the thinnest parent a Node process can
  // run (Node's own internal Pipe, or pipewrap's, straight on the channel
  // fd; one line per message, JSON.parse/stringify, no framework), with the
  // same plain Node child. Run as `node` (Node's Pipe) or `pipewrap`.
  'ipc-echo-floor'() {
    const count = Math.round(20000 * scale);
    const { spawn } = require('node:child_process');
    const [parentFd, childFd] = require('../lib/binding').native.socketpair();
    const child = spawn(process.execPath, [path.join(__dirname, 'ipc-child.js'), 'echo', '0'], {
      stdio: ['ignore', 'inherit', 'inherit', childFd],
      env: { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json' },
    });
    fs.closeSync(childFd);
    let Pipe, W, st;
    if (implName === 'pipewrap') ({ Pipe, WriteWrap: W, streamBaseState: st } = require('../lib/binding'));
    else {
      ({ Pipe } = process.binding('pipe_wrap'));
      ({ WriteWrap: W, streamBaseState: st } = process.binding('stream_wrap'));
    }
    const pipe = new Pipe(2 /* IPC */);
    pipe.open(parentFd);
    const send = (m) => pipe.writeUtf8String(new W(), JSON.stringify(m) + '\n');
    let left = count;
    let t0 = null;
    let pending = '';
    pipe.onread = (ab) => {
      if (!ab) return;
      pending += Buffer.from(ab, st[1], st[0]).toString();
      let nl;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const msg = JSON.parse(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
        if (t0 === null) {
          if (msg !== 'ready') throw new Error('expected ready');
          t0 = start();
        } else if (--left === 0) {
          const s = seconds(t0);
          child.kill();
          return finish(count / s, 'round trips/s');
        }
        send({ n: left });
      }
    };
    pipe.readStart();
  },

  'raw-pingpong'() {
    rawPair((a, b, st, W) => {
      const rounds = Math.round(20000 * scale);
      const msg = Buffer.alloc(64, 97);
      b.onread = (ab) => {
        if (ab) b.writeBuffer(new W(), msg);
      };
      b.readStart();
      let left = rounds;
      const t0 = start();
      a.onread = (ab) => {
        if (!ab) return;
        if (--left === 0) return finish(rounds / seconds(t0), 'round trips/s');
        a.writeBuffer(new W(), msg);
      };
      a.readStart();
      a.writeBuffer(new W(), msg);
    });
  },

  'raw-bulk'() {
    rawPair((a, b, st, W) => {
      const total = Math.round(512 * 1024 * 1024 * scale);
      const chunk = Buffer.alloc(64 * 1024, 120);
      let n = 0;
      const t0 = start();
      b.onread = (ab) => {
        if (!ab) return;
        n += ab.byteLength;
        if (n >= total) finish(total / 1e6 / seconds(t0), 'MB/s');
      };
      b.readStart();
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const req = new W();
          sent += chunk.length;
          const err = a.writeBuffer(req, chunk);
          if (err) throw new Error('write ' + err);
          if (st[3]) {
            req.oncomplete = pump;
            return;
          }
        }
      };
      pump();
    });
  },

  idle() {
    // RSS per idle connection: 5k connections, client and server ends both
    // in this process (10k sockets), measured after GC.
    const count = Math.round(5000 * scale);
    const gc = globalThis.gc || (() => {});
    const server = impl.createServer(() => {});
    server.listen({ path: sockPath, backlog: 4096 }, () => {
      gc();
      const before = process.memoryUsage().rss;
      const socks = [];
      let ready = 0;
      let accepted = 0;
      server.on('connection', () => {
        if (++accepted === count && ready === count) done();
      });
      const done = () => {
        gc();
        setTimeout(() => {
          gc();
          const after = process.memoryUsage().rss;
          finish((after - before) / count, 'bytes RSS per connection (both ends)');
        }, 100);
      };
      const open = (i) => {
        if (i === count) return;
        const c = impl.connect(sockPath, () => {
          if (++ready === count && accepted === count) done();
        });
        socks.push(c);
        setImmediate(() => open(i + 1));
      };
      open(0);
    });
  },
};

function rawPair(cb) {
  const b = implName === 'pipewrap' ? require('../lib/binding') : null;
  let Pipe, W, st, constants;
  if (b) ({ Pipe, WriteWrap: W, streamBaseState: st, constants } = b);
  else {
    ({ Pipe, constants } = process.binding('pipe_wrap'));
    ({ WriteWrap: W, streamBaseState: st } = process.binding('stream_wrap'));
  }
  const { PipeConnectWrap } = b || process.binding('pipe_wrap');
  const server = new Pipe(constants.SERVER);
  server.bind(sockPath);
  server.listen(16);
  server.onconnection = (status, peer) => {
    cb(client, peer, st, W);
  };
  const client = new Pipe(constants.SOCKET);
  const req = new PipeConnectWrap();
  req.oncomplete = () => {};
  client.connect(req, sockPath);
}

if (!workloads[workload]) {
  console.error(`unknown workload ${workload}; have: ${Object.keys(workloads).join(', ')}`);
  process.exit(2);
}
workloads[workload]();
