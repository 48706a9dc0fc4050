'use strict';
// node bench/clients-writev-ab.js [--rounds N] [--groups N]
//
// The write shape node-postgres makes for every query: cork(), five small
// Buffers (Parse, Bind, Describe, Execute, Sync: 41+31+7+10+5 bytes),
// uncork(), so the stream hands _writev() one batch of five buffers. Runs
// it in one process over a Unix socket (the reader drains in the same
// process), three ways, alternating, each in a fresh process:
//   stock   pipewrap as it is (handle.writev with the five chunks)
//   concat  pipewrap with the _writev() proposed in bench/notes-clients.md
//           (a small all-Buffer batch copied into one Buffer, one
//           writeBuffer), patched in here by assignment, lib/net.js unchanged
//   node    Node's net
// Prints medians of CPU ns per corked group (and wall), and the ratios.
const { execFileSync } = require('node:child_process');

const WRITEV_CONCAT_MAX_BYTES = 4096;
const WRITEV_CONCAT_MAX_CHUNKS = 64;
// lib/net.js marks a sendFds() Buffer with its private Symbol('pipewrap.fds');
// from outside it is found by its description.
const hasFds = (c) => Object.getOwnPropertySymbols(c.chunk).some((s) => s.description === 'pipewrap.fds');

// The proposed _writev (the diff in bench/notes-clients.md), from outside.
function concatWritev(data, cb) {
  if (data.allBuffers === true && data.length <= WRITEV_CONCAT_MAX_CHUNKS) {
    let total = 0;
    for (let i = 0; i < data.length; i++) total += data[i].chunk.length;
    if (total <= WRITEV_CONCAT_MAX_BYTES && !data.some(hasFds)) {
      const buf = Buffer.allocUnsafe(total);
      let off = 0;
      for (let i = 0; i < data.length; i++) {
        const c = data[i].chunk;
        buf.set(c, off);
        off += c.length;
      }
      this._writeGeneric(false, buf, 'buffer', cb);
      return;
    }
  }
  this._writeGeneric(true, data, '', cb);
}

function child(impl, groups, chunkCount) {
  const net = require('node:net');
  const os = require('node:os');
  const path = require('node:path');
  const pipewrap = require('../lib/index.js');
  if (impl === 'concat') pipewrap.Socket.prototype._writev = concatWritev;
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

module.exports = { concatWritev };

if (require.main !== module) {
  // required for concatWritev only
} else if (process.argv[2] === '--child') {
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
    const res = { stock: [], concat: [], node: [] };
    const order = ['stock', 'concat', 'node'];
    for (let r = 0; r < rounds; r++) {
      for (const impl of r % 2 ? [...order].reverse() : order) {
        const out = execFileSync(process.execPath, [__filename, '--child', impl, String(groups), String(chunkCount)], { encoding: 'utf8' });
        res[impl].push(JSON.parse(out.trim().split('\n').pop()));
      }
    }
    const m = (impl, k) => median(res[impl].map((x) => x[k]));
    console.log(`${chunkCount} chunks per corked group, ${rounds} rounds × ${groups} groups: CPU ns/group ` +
      `stock ${m('stock', 'cpu').toFixed(0)}, concat ${m('concat', 'cpu').toFixed(0)}, node ${m('node', 'cpu').toFixed(0)}; ` +
      `stock/concat ${(m('stock', 'cpu') / m('concat', 'cpu')).toFixed(2)}×, node/stock ${(m('node', 'cpu') / m('stock', 'cpu')).toFixed(2)}×, ` +
      `node/concat ${(m('node', 'cpu') / m('concat', 'cpu')).toFixed(2)}× (wall ns/group ${m('stock', 'wall').toFixed(0)} / ${m('concat', 'wall').toFixed(0)} / ${m('node', 'wall').toFixed(0)})`);
  }
}
