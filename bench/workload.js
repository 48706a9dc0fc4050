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
const { rawBinding, onJsonLines } = require('./common');
const forkImpl = implName === 'pipewrap' ? require('..').fork : require('node:child_process').fork;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwb-'));
const sockPath = path.join(dir, 'b.sock');
const now = () => process.hrtime.bigint();
const seconds = (t0) => Number(now() - t0) / 1e9;
// The measured window starts here: wall clock, and this process's CPU time
// (user + system; for ipc-* that is the parent, the side under test).
let window = null;
function start() {
  profStart();
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
  profStop();
  exiting = true;
  for (const p of peers) p.child.kill();
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

// The second process of the xproc-* and idle workloads: bench/peer.js, the
// same implementation as this one, controlled over its stdio (one line per
// message: `ready`, or JSON), never over the implementation under test.
const peers = [];
function spawnPeer(role, args, nodeArgs = []) {
  const { spawn } = require('node:child_process');
  let file = process.execPath;
  let argv = ['--no-deprecation', ...nodeArgs, path.join(__dirname, 'peer.js'), implName, role, sockPath, ...args.map(String)];
  // PWB_PEER_CPU: pin the peer to that CPU (bench/run.js pins this process
  // with taskset, and the peer inherits it unless this is set).
  if (process.env.PWB_PEER_CPU) {
    argv = ['-c', process.env.PWB_PEER_CPU, file, ...argv];
    file = 'taskset';
  }
  const child = spawn(file, argv, {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = [];
  const waiting = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    const parts = (partial + d).split('\n');
    partial = parts.pop();
    for (const line of parts) {
      const msg = line === 'ready' ? line : JSON.parse(line);
      if (waiting.length) waiting.shift()(msg);
      else lines.push(msg);
    }
  });
  child.on('exit', (code, signal) => {
    if (!exiting) {
      console.error(`bench peer (${role}) exited early: ${code ?? signal}`);
      process.exit(1);
    }
  });
  const peer = {
    child,
    // The peer's next line: 'ready' or a parsed JSON object.
    next: () => new Promise((resolve) => (lines.length ? resolve(lines.shift()) : waiting.push(resolve))),
    send: (line) => child.stdin.write(line + '\n'),
  };
  peers.push(peer);
  return peer;
}
let exiting = false;
process.on('exit', () => {
  exiting = true;
});
// This process's CPU time (µs) in the measured window so far.
const windowCpu = () => {
  const { user, system } = process.cpuUsage(window.cpu);
  return user + system;
};

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
        writeAll(c, chunk, total);
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

  // The graceful shape: the server ends each connection on accept; the
  // client reads to EOF, its auto end() shuts its side down, and it waits
  // for 'close' (end -> EOF -> end -> shutdown -> close on both ends).
  // connect-end-warm: the same loop timed after as many untimed
  // connections. The 3000 of the cold row are mostly the JIT's warm-up in
  // both implementations (the first 1000 cost 3-4 times what later ones
  // do, and TurboFan's compile threads are in the CPU figure).
  'connect-end'() {
    const count = Math.round(3000 * scale);
    const warmup = workload.endsWith('-warm') ? count : 0;
    const server = impl.createServer((s) => s.end());
    server.listen(sockPath, () => {
      let left = warmup + count;
      let t0 = warmup === 0 ? start() : null;
      const one = () => {
        const c = impl.connect(sockPath);
        c.resume();
        c.on('error', () => {});
        c.on('close', () => {
          if (--left === 0) return finish(count / seconds(t0), 'connections/s');
          if (left === count && t0 === null) t0 = start();
          one();
        });
      };
      one();
    });
  },

  'connect-end-warm'() {
    return workloads['connect-end']();
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

  // The same one-way measure over several message shapes (each until the
  // plain Node child has received them all): a small object with a string
  // field, a nested object, a 4 KiB string, and a 1 KiB Buffer in advanced
  // serialization (a Buffer in json mode is its toJSON() form, not a shape
  // users send).
  'ipc-oneway-small'() {
    oneway(50000, (i) => ({ id: i, name: 'small' }));
  },

  'ipc-oneway-nested'() {
    oneway(30000, nested);
  },

  // The bound of ipc-oneway-nested: how fast the plain Node child takes
  // these messages when no parent cost is in the way (onewayBound).
  'ipc-oneway-nested-bound'() {
    onewayBound(30000, nested);
  },

  // A reference for ipc-oneway-nested with a parent that has to encode:
  // the child fed as above (everything pre-encoded, handed over at once),
  // while this process does, in the timed window, the encoding any parent
  // must do (JSON.stringify of every message and its UTF-8 bytes) and
  // nothing else, letting the socket take what the child has read after
  // every 16 KiB encoded (four times as often as pipewrap's channel does).
  // What it adds to the plain bound is the encoding's load on the machine:
  // on a 2-vCPU VM a busy neighbour CPU slows the child by about a third.
  // Not a strict bound: how that load overlaps the child's work differs
  // from a real parent's, and pipewrap's fork passes it in some runs.
  'ipc-oneway-nested-bound-busy'() {
    onewayBound(30000, nested, { busy: true });
  },

  // A reference for ipc-oneway-nested: the thinnest parent that has to
  // encode the messages (the implementation's own raw Pipe on the channel,
  // JSON.stringify per message inside the timed window, the lines joined
  // in groups of about 16 KiB, one write per group, no framework), with the
  // same plain Node child. A reference for what encoding alone costs a
  // parent, not a bound: a channel that writes earlier and in smaller
  // pieces can pass it.
  'ipc-oneway-nested-floor'() {
    onewayBound(30000, nested, { live: true });
  },

  'ipc-oneway-4k'() {
    const s = 'x'.repeat(4096);
    oneway(20000, () => s);
  },

  'ipc-oneway-buffer-adv'() {
    const b = Buffer.alloc(1024, 7);
    oneway(30000, () => b, { serialization: 'advanced' });
  },

  'ipc-echo'() {
    echo(forkImpl(path.join(__dirname, 'ipc-child.js'), ['echo', '0']));
  },

  // ipc-echo with both processes pinned to one CPU (bench/run.js pins this
  // process; the child inherits it).
  'ipc-echo-1cpu'() {
    return workloads['ipc-echo']();
  },

  'ipc-echo-floor-1cpu'() {
    return workloads['ipc-echo-floor']();
  },

  // The floor with Node's delivery: each message reaches its listener as a
  // channel's 'message' does, one process.nextTick per message and an
  // EventEmitter emit (Node's channel does both; a parent that keeps Node's
  // observable order and async context cannot skip them).
  'ipc-echo-floor-tick-1cpu'() {
    return workloads['ipc-echo-floor']();
  },

  // ipc-echo-both-floor-1cpu with Node's delivery (above) at both ends.
  'ipc-echo-both-floor-tick-1cpu'() {
    return workloads['ipc-echo-floor']();
  },

  // The in-Node floor at both ends, one CPU: the floor parent and a child
  // that is the same thin loop (raw Pipe on fd 3, one JSON line per
  // message, no framework), each on the implementation's own Pipe. What
  // any channel in two Node processes could reach in ipc-echo-both-1cpu.
  'ipc-echo-both-floor-1cpu'() {
    return workloads['ipc-echo-floor']();
  },

  // The same implementation at both ends, one CPU: pipewrap's fork() with a
  // child on pipewrap's openChannel() (bench/ipc-child-open.js; Node's
  // runtime must not claim the fd first, so NODE_CHANNEL_FD is removed from
  // the child's environment by env(1) and the fd passed as PIPEWRAP_IPC_FD),
  // against Node's fork() with a plain Node child.
  'ipc-echo-both-1cpu'() {
    if (implName !== 'pipewrap') return workloads['ipc-echo']();
    echo(forkImpl(path.join(__dirname, 'ipc-child-open.js'), [], {
      execPath: 'env',
      execArgv: ['-u', 'NODE_CHANNEL_FD', 'PIPEWRAP_IPC_FD=3', process.execPath],
    }));
  },

  // The in-Node floor of ipc-echo: the thinnest parent a Node process can
  // run (Node's own internal Pipe, or pipewrap's, straight on the channel
  // fd; one line per message, JSON.parse/stringify, no framework), with the
  // same plain Node child. Run as `node` (Node's Pipe) or `pipewrap`.
  'ipc-echo-floor'() {
    const count = Math.round(20000 * scale);
    const { spawn } = require('node:child_process');
    const [parentFd, childFd] = require('../lib/binding').native.socketpair();
    // ipc-echo-both-floor-1cpu: the child is the same thin loop
    // (bench/ipc-child-floor.js), on the same implementation's Pipe.
    const bothFloor = workload.startsWith('ipc-echo-both-floor');
    const tick = workload.includes('-tick');
    const argv = bothFloor
      ? [path.join(__dirname, 'ipc-child-floor.js'), implName, tick ? 'tick' : 'direct']
      : [path.join(__dirname, 'ipc-child.js'), 'echo', '0'];
    const child = spawn(process.execPath, ['--no-deprecation', ...argv], {
      stdio: ['ignore', 'inherit', 'inherit', childFd],
      env: bothFloor ? process.env : { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json' },
    });
    fs.closeSync(childFd);
    const { Pipe, WriteWrap: W, streamBaseState: st } = rawBinding(implName);
    const pipe = new Pipe(2 /* IPC */);
    pipe.open(parentFd);
    const send = (m) => pipe.writeUtf8String(new W(), JSON.stringify(m) + '\n');
    let left = count;
    let t0 = null;
    let c0 = null;
    const onMessage = (msg) => {
      if (t0 === null) {
        if (msg !== 'ready') throw new Error('expected ready');
        c0 = procCpuSplit(child.pid);
        t0 = start();
      } else if (--left === 0) {
        const s = seconds(t0);
        const c1 = procCpuSplit(child.pid);
        const split = echoCpuSplit(count, c0, c1);
        child.kill();
        return finish(count / s, 'round trips/s', split);
      }
      send({ n: left });
    };
    const emitter = new (require('node:events'))();
    emitter.on('message', onMessage);
    const emitMessage = (msg) => emitter.emit('message', msg);
    const deliver = tick ? (msg) => process.nextTick(emitMessage, msg) : onMessage;
    onJsonLines(pipe, st, deliver);
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
      pumpRaw(a, W, st, chunk, total);
    });
  },

  // Two processes, the shape users run (examples/brother-process): the
  // client here, the echo server in a peer process of the same
  // implementation. 64-byte round trips. CPU/op: both processes.
  // bench/run.js runs it with both processes pinned to one CPU
  // (xproc-pingpong) and to two (xproc-pingpong-2cpu, PWB_PEER_CPU): left to
  // the scheduler, a run lands on one or the other and the rate is bimodal.
  async 'xproc-pingpong'() {
    // Cross-CPU hops are several times slower: fewer of them.
    const rounds = Math.round((workload.endsWith('-2cpu') ? 15000 : 30000) * scale);
    const msg = Buffer.alloc(64, 97);
    const peer = spawnPeer('echo', []);
    if ((await peer.next()) !== 'ready') throw new Error('peer not ready');
    const c = impl.connect(sockPath, () => {
      let left = rounds;
      let got = 0;
      const t0 = start();
      c.on('data', (d) => {
        got += d.length;
        if (got < 64) return;
        got -= 64;
        if (--left > 0) return c.write(msg);
        const rate = rounds / seconds(t0);
        const cpu = windowCpu();
        c.destroy();
        peer.next().then((p) => finish(rate, 'round trips/s', { cpuPerOp: (cpu + p.cpu) / rounds, cpuPeerPerOp: p.cpu / rounds }));
      });
      c.write(msg);
    });
  },

  // xproc-pingpong's shape on the bindings alone (no net layer, no
  // streams): the raw Pipe here, a raw Pipe echo in the peer (pipewrap's or
  // Node's internal pipe_wrap). What an implementation on Node's loop costs
  // per round trip before any JS stream machinery: the floor of
  // xproc-pingpong for both. Run pinned like xproc-pingpong
  // (`taskset -c 0 node bench/workload.js <impl> xproc-raw-pingpong`).
  async 'xproc-raw-pingpong'() {
    const rounds = Math.round(30000 * scale);
    const peer = spawnPeer('raw-echo', []);
    if ((await peer.next()) !== 'ready') throw new Error('peer not ready');
    const { Pipe, WriteWrap: W, streamBaseState: st, constants, PipeConnectWrap } = rawBinding(implName);
    const msg = Buffer.alloc(64, 97);
    const c = new Pipe(constants.SOCKET);
    const req = new PipeConnectWrap();
    req.oncomplete = (status) => {
      if (status) throw new Error('connect ' + status);
      let left = rounds;
      let got = 0;
      let t0;
      c.onread = (ab) => {
        if (!ab) return;
        got += st[0];
        if (got < 64) return;
        got -= 64;
        if (--left > 0) return c.writeBuffer(new W(), msg);
        const rate = rounds / seconds(t0);
        const cpu = windowCpu();
        c.readStop();
        c.close();
        peer.next().then((p) => finish(rate, 'round trips/s', { cpuPerOp: (cpu + p.cpu) / rounds, cpuPeerPerOp: p.cpu / rounds }));
      };
      c.readStart();
      t0 = start();
      c.writeBuffer(new W(), msg);
    };
    c.connect(req, sockPath);
  },

  'xproc-pingpong-2cpu'() {
    return workloads['xproc-pingpong']();
  },

  // Fan-in across processes: the echo server here; 200 client connections
  // in a peer process each run 100 64-byte request/response round trips.
  // CPU/op: both processes.
  'xproc-fanin'() {
    const clients = 200;
    const perClient = Math.max(1, Math.round(100 * scale));
    echoServer(async () => {
      const peer = spawnPeer('clients', [clients, perClient]);
      if ((await peer.next()) !== 'ready') throw new Error('peer not ready');
      const t0 = start();
      peer.send('go');
      const p = await peer.next();
      const total = clients * perClient;
      const rate = total / seconds(t0);
      finish(rate, 'messages/s', { cpuPerOp: (windowCpu() + p.cpu) / total, cpuPeerPerOp: p.cpu / total });
    });
  },

  // Bulk across processes: 512 MiB in 64 KiB writes from here to a sink in a
  // peer process, which answers 'K' at the end. CPU per MB: both processes.
  async 'xproc-bulk'() {
    const total = Math.round(512 * 1024 * 1024 * scale);
    const chunk = Buffer.alloc(64 * 1024, 120);
    const peer = spawnPeer('sink', [total]);
    if ((await peer.next()) !== 'ready') throw new Error('peer not ready');
    let t0;
    const c = impl.connect(sockPath, () => {
      t0 = start();
      writeAll(c, chunk, total);
    });
    c.on('data', async () => {
      const rate = total / 1e6 / seconds(t0);
      const cpu = windowCpu();
      const p = await peer.next();
      finish(rate, 'MB/s', { cpuPerOp: (cpu + p.cpu) / (total / 1e6), cpuPeerPerOp: p.cpu / (total / 1e6) });
    });
  },

  // xproc-bulk on the bare bindings (pipewrap's Pipe or Node's internal
  // pipe_wrap Pipe, no net layer, no streams): 64 KiB writes until one goes
  // asynchronous, the next when it completes; the peer counts bytes
  // (bench/peer.js raw-sink). The floor of xproc-bulk for each binding.
  async 'xproc-raw-bulk'() {
    const total = Math.round(512 * 1024 * 1024 * scale);
    const peer = spawnPeer('raw-sink', [total]);
    if ((await peer.next()) !== 'ready') throw new Error('peer not ready');
    const { Pipe, WriteWrap: W, streamBaseState: st, constants, PipeConnectWrap } = rawBinding(implName);
    const chunk = Buffer.alloc(64 * 1024, 120);
    const c = new Pipe(constants.SOCKET);
    const req = new PipeConnectWrap();
    req.oncomplete = (status) => {
      if (status) throw new Error('connect ' + status);
      let t0;
      c.onread = (ab) => {
        if (!ab) return;
        const rate = total / 1e6 / seconds(t0);
        const cpu = windowCpu();
        c.readStop();
        c.close();
        peer.next().then((p) => finish(rate, 'MB/s', { cpuPerOp: (cpu + p.cpu) / (total / 1e6), cpuPeerPerOp: p.cpu / (total / 1e6) }));
      };
      c.readStart();
      t0 = start();
      pumpRaw(c, W, st, chunk, total);
    };
    c.connect(req, sockPath);
  },

  idle() {
    // RSS per idle connection at 10k connections (full scale): the server
    // ends in this process, the client ends in a peer process of the same
    // implementation (one process cannot hold 20k fds under a 20k limit),
    // each measured after GC; reported as server end + client end.
    const fdLimit = Number(require('node:child_process').execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || Infinity;
    const count = Math.min(Math.round(10000 * scale), fdLimit - 100);
    const gc = globalThis.gc || (() => {});
    const server = impl.createServer(() => {});
    const conns = [];
    server.listen({ path: sockPath, backlog: 4096 }, async () => {
      const peer = spawnPeer('idle-clients', [count], ['--expose-gc']);
      if ((await peer.next()) !== 'ready') throw new Error('peer not ready');
      gc();
      const before = process.memoryUsage().rss;
      let clientBytes = null;
      const done = () => {
        if (clientBytes === null || conns.length < count) return;
        gc();
        setTimeout(() => {
          gc();
          const serverBytes = (process.memoryUsage().rss - before) / count;
          finish(serverBytes + clientBytes, 'bytes RSS per connection (both ends)', { serverBytes, clientBytes, connections: count });
        }, 100);
      };
      server.on('connection', (s) => {
        conns.push(s);
        done();
      });
      peer.send('go');
      peer.next().then((p) => {
        clientBytes = p.bytes;
        done();
      });
    });
  },
};

// Writes `chunk` to `c` until `total` bytes are sent, waiting for 'drain'
// whenever write() asks to (the bulk workloads).
function writeAll(c, chunk, total) {
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent += chunk.length;
      if (!c.write(chunk)) return c.once('drain', pump);
    }
  };
  pump();
}

// One message in flight: the parent sends, the child echoes, count times.
function echo(child) {
  const count = Math.round(20000 * scale);
  child.on('message', (m) => {
    if (m === 'ready') {
      let left = count;
      const c0 = procCpuSplit(child.pid);
      const t0 = start();
      child.on('message', () => {
        if (--left === 0) {
          const s = seconds(t0);
          const c1 = procCpuSplit(child.pid);
          const split = echoCpuSplit(count, c0, c1);
          child.kill();
          return finish(count / s, 'round trips/s', split);
        }
        child.send({ n: left });
      });
      child.send({ n: left });
    }
  });
}

// A process's CPU time (user + system, µs) from /proc, or null.
function procCpu(pid) {
  const c = procCpuSplit(pid);
  return c === null ? null : c[0] + c[1];
}

// CPU per round trip of an echo workload, user and system apart: this
// process over the measured window, the child from /proc samples c0 and c1
// ([user, system] or null) taken at the window's ends.
function echoCpuSplit(count, c0, c1) {
  const { user, system } = process.cpuUsage(window.cpu);
  const split = { userPerOp: user / count, sysPerOp: system / count };
  if (c0 !== null && c1 !== null) {
    Object.assign(split, {
      childCpuPerOp: (c1[0] + c1[1] - c0[0] - c0[1]) / count,
      childUserPerOp: (c1[0] - c0[0]) / count,
      childSysPerOp: (c1[1] - c0[1]) / count,
    });
  }
  return split;
}

// [user, system] CPU time of a process (µs) from /proc, or null.
function procCpuSplit(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [(Number(f[11]) * 1e6) / 100, (Number(f[12]) * 1e6) / 100]; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

// PWB_CPU_PROF=file: a V8 CPU profile of this process over the measured
// window (the child is not profiled), written when the workload finishes.
let profSession = null;
if (process.env.PWB_CPU_PROF) {
  const inspector = require('node:inspector');
  profSession = new inspector.Session();
  profSession.connect();
  profSession.post('Profiler.enable');
  profSession.post('Profiler.setSamplingInterval', { interval: 100 });
}
function profStart() {
  if (profSession) profSession.post('Profiler.start');
}
function profStop() {
  if (!profSession) return;
  profSession.post('Profiler.stop', (err, { profile }) => {
    fs.writeFileSync(process.env.PWB_CPU_PROF, JSON.stringify(profile));
  });
}

function nested(i) {
  return {
    id: i,
    user: { name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'dev'], prefs: { theme: 'dark', tz: 'UTC' } },
    items: [{ sku: 'A-1', qty: 2, price: 9.5 }, { sku: 'B-22', qty: 1, price: 120 }],
    ok: true,
  };
}

// count messages made by make(i) to a plain Node child over a raw Pipe on
// the channel, timed until the child has received them all. Without `live`
// (the bound of the ipc-oneway-* rows): every message is encoded (json
// lines, as Node's channel writes them) before the clock starts and written
// in one write on pipewrap's raw Pipe (the child's channel reads it as the
// socket fills), so no parent cost is in the way. With `live` (a reference,
// not a bound): the implementation's own raw Pipe, each message encoded in
// the window and written in ~16 KiB groups.
function onewayBound(fullCount, make, { live = false, busy = false } = {}) {
  const count = Math.max(10, Math.round(fullCount * scale));
  const { spawn } = require('node:child_process');
  const binding = require('../lib/binding');
  const [parentFd, childFd] = binding.native.socketpair();
  const child = spawn(process.execPath, [path.join(__dirname, 'ipc-child.js'), 'oneway', String(count)], {
    stdio: ['ignore', 'inherit', 'inherit', childFd],
    env: { ...process.env, NODE_CHANNEL_FD: '3', NODE_CHANNEL_SERIALIZATION_MODE: 'json' },
  });
  fs.closeSync(childFd);
  const { Pipe, WriteWrap, streamBaseState: st } = live ? rawBinding(implName) : binding;
  const pipe = new Pipe(2 /* IPC */);
  pipe.open(parentFd);
  const msgs = live || busy ? Array.from({ length: count }, (_, i) => make(i)) : null;
  const payload = live ? null : Buffer.from(Array.from({ length: count }, (_, i) => JSON.stringify(make(i)) + '\n').join(''));
  const write = (data) => {
    const req = new WriteWrap();
    req.oncomplete = () => {};
    const err = typeof data === 'string' ? pipe.writeUtf8String(req, data) : pipe.writeBuffer(req, data);
    if (err) throw new Error('write ' + err);
  };
  // The encoding alone, into reused memory (busy): 16 KiB groups of lines,
  // as the channels batch them.
  const encodeAll = () => {
    let out = Buffer.allocUnsafe(64 * 1024);
    let texts = [];
    let chars = 0;
    for (let i = 0; i < count; i++) {
      const text = JSON.stringify(msgs[i]);
      texts.push(text);
      chars += text.length + 1;
      if (chars >= 16384 || i === count - 1) {
        const text = texts.join('\n') + '\n';
        if (out.length < text.length * 3) out = Buffer.allocUnsafe(text.length * 3);
        out.utf8Write(text, 0);
        texts = [];
        chars = 0;
        pipe.tryFlush();
      }
    }
  };
  const sendAll = () => {
    if (busy) {
      write(payload);
      return encodeAll();
    }
    if (!live) return write(payload);
    let group = '';
    for (let i = 0; i < count; i++) {
      group += JSON.stringify(msgs[i]) + '\n';
      if (group.length >= 16384) {
        write(group);
        group = '';
      }
    }
    if (group) write(group);
  };
  let t0 = null;
  let c0 = null;
  onJsonLines(pipe, st, (msg) => {
    if (msg === 'ready') {
      c0 = procCpu(child.pid);
      t0 = start();
      sendAll();
    } else if (msg === 'done') {
      const s = seconds(t0);
      const c1 = procCpu(child.pid);
      child.kill();
      finish(count / s, 'messages/s', c0 === null || c1 === null ? {} : { childCpuPerOp: (c1 - c0) / count });
    }
  });
  pipe.readStart();
}

// count messages made by make(i) to a plain Node child, timed until the
// child has received them all (it answers 'done').
function oneway(fullCount, make, options = {}) {
  const count = Math.max(10, Math.round(fullCount * scale));
  const child = forkImpl(path.join(__dirname, 'ipc-child.js'), ['oneway', String(count)], options);
  child.on('message', (m) => {
    if (m === 'ready') {
      const msgs = Array.from({ length: count }, (_, i) => make(i));
      const c0 = procCpu(child.pid);
      const t0 = start();
      child.once('message', (m2) => {
        if (m2 !== 'done') throw new Error('bad reply');
        const s = seconds(t0);
        const c1 = procCpu(child.pid);
        child.kill();
        finish(count / s, 'messages/s', c0 === null || c1 === null ? {} : { childCpuPerOp: (c1 - c0) / count });
      });
      for (let i = 0; i < count; i++) child.send(msgs[i]);
    }
  });
}

// Writes `total` bytes of `chunk` on a bare-binding Pipe: on until a write
// goes asynchronous (st[3], kLastWriteWasAsync), on again when it completes.
function pumpRaw(pipe, W, st, chunk, total) {
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      const req = new W();
      sent += chunk.length;
      const err = pipe.writeBuffer(req, chunk);
      if (err) throw new Error('write ' + err);
      if (st[3]) {
        req.oncomplete = pump;
        return;
      }
    }
  };
  pump();
}

function rawPair(cb) {
  const { Pipe, WriteWrap: W, streamBaseState: st, constants, PipeConnectWrap } = rawBinding(implName);
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
