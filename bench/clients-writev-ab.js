'use strict';
// node bench/clients-writev-ab.js [--rounds N] [--groups N]
//
// The write shape node-postgres makes for every query: cork(), five small
// Buffers (Parse, Bind, Describe, Execute, Sync: 41+31+7+10+5 bytes),
// uncork(), so the stream hands _writev() one batch of five buffers. Runs
// it in one process over a Unix socket (the reader drains in the same
// process), three ways, alternating, each in a fresh process:
//   writev  pipewrap with the _writev() before the batch was joined (every
//           batch through handle.writev), patched in here by assignment
//   stock   pipewrap as it is (a small all-Buffer batch copied into one
//           Buffer, one writeBuffer: lib/net.js concatSmallBuffers)
//   node    Node's net
// Prints medians of CPU ns per corked group (and wall), and the ratios.
const { execFileSync } = require('node:child_process');

// The _writev() of lib/net.js before the join: every corked batch goes to
// the binding's writev as it is.
function writevAlways(data, cb) {
  this._writeGeneric(true, data, '', cb);
}

function child(impl, groups, chunkCount) {
  const net = require('node:net');
  const os = require('node:os');
  const path = require('node:path');
  const pipewrap = require('../lib/index.js');
  if (impl === 'writev') pipewrap.Socket.prototype._writev = writevAlways;
  const sizes = chunkCount === 5 ? [41, 31, 7, 10, 5] : Array.from({ length: chunkCount }, () => 20);
  const chunks = sizes.map((n, i) => Buffer.alloc(n, i + 1));
  const per = sizes.reduce((a, b) => a + b, 0);
  const lib = impl === 'node' ? net : pipewrap;
  const sock = path.join(os.tmpdir(), `pipewrap-writev-ab-${process.pid}.sock`);
  let got = 0;
  const server = lib.createServer((s) => {
    s.on('data', (d) => {
      got += d.length;
      if (got === per * groups) s.end();
    });
  });
  server.listen(sock, () => {
    const c = lib.connect(sock, () => {
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      let i = 0;
      // About 8 kB per loop turn, then let the reader run (the socket
      // buffer never fills, so every group is one synchronous write).
      const perTurn = Math.max(1, Math.floor(8192 / per));
      const turn = () => {
        for (let k = 0; k < perTurn && i < groups; k++, i++) {
          c.cork();
          for (const ch of chunks) c.write(ch);
          c.uncork();
        }
        if (i < groups) setImmediate(turn);
      };
      turn();
      c.resume();
      c.on('end', () => {
        const cpu = process.cpuUsage(cpu0);
        const wall = Number(process.hrtime.bigint() - t0);
        console.log(JSON.stringify({ cpu: (1000 * (cpu.user + cpu.system)) / groups, wall: wall / groups }));
        c.destroy();
        server.close();
      });
    });
  });
}

if (process.argv[2] === '--child') {
  child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
} else {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const rounds = opt('rounds', 5);
  const groups = opt('groups', 200000);
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  for (const chunkCount of [5, 20]) {
    const res = { writev: [], stock: [], node: [] };
    const order = ['writev', 'stock', 'node'];
    for (let r = 0; r < rounds; r++) {
      for (const impl of r % 2 ? [...order].reverse() : order) {
        const out = execFileSync(process.execPath, [__filename, '--child', impl, String(groups), String(chunkCount)], { encoding: 'utf8' });
        res[impl].push(JSON.parse(out.trim().split('\n').pop()));
      }
    }
    const m = (impl, k) => median(res[impl].map((x) => x[k]));
    console.log(`${chunkCount} chunks per corked group, ${rounds} rounds × ${groups} groups: CPU ns/group ` +
      `writev ${m('writev', 'cpu').toFixed(0)}, stock ${m('stock', 'cpu').toFixed(0)}, node ${m('node', 'cpu').toFixed(0)}; ` +
      `writev/stock ${(m('writev', 'cpu') / m('stock', 'cpu')).toFixed(2)}×, node/stock ${(m('node', 'cpu') / m('stock', 'cpu')).toFixed(2)}× ` +
      `(wall ns/group ${m('writev', 'wall').toFixed(0)} / ${m('stock', 'wall').toFixed(0)} / ${m('node', 'wall').toFixed(0)})`);
  }
}
