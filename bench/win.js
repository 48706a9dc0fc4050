'use strict';
// npm run bench:win [-- --rounds N --scale S --only a,b --impl node --node 22]
//
// pipewrap vs Node's own `net` / `child_process.fork` on Windows named pipes,
// both under the same Wine (scripts/win/setup.sh), side by side in one run:
// alternating A B / B A over the rounds (5 by default), each run a fresh
// node.exe. Prints medians, the ratio pipewrap / Node of the medians and the
// min..max of the per-round (paired) ratios. Wine's named pipes go through
// wineserver: absolute figures are far below Linux and noisy; only the
// ratios, taken in one run, mean anything.
//
//   --impl node   both columns Node's own (checks the bench itself; the ratio
//                 then shows the noise floor)
//
// Workloads (each in one node.exe: both ends of the connections in it, except
// ipc-oneway, which has a plain Node child):
//   pingpong    64-byte round trips on one connection
//   bulk        64 KiB writes, one direction
//   connect     sequential connect + accept + close
//   ipc-oneway  { i, kind, payload } messages from fork()'s parent to a plain
//               Node child, which answers once when it has them all
const path = require('node:path');

const WORKLOADS = [
  ['pingpong', 'round trips/s', 3000],
  ['bulk', 'MB/s', 256], // MiB
  ['connect', 'connections/s', 60],
  ['ipc-oneway', 'messages/s', 20000],
];

if (process.argv[2] === '--worker') worker(process.argv[3], process.argv[4], Number(process.argv[5]));
else if (process.argv[2] === '--ipc-child') ipcChild();
else main();

// ---- inside node.exe ---------------------------------------------------
function worker(impl, workload, count) {
  const api = impl === 'pipewrap' ? require('pipewrap') : { ...require('node:net'), fork: require('node:child_process').fork };
  const name = `\\\\.\\pipe\\pw-bench-${process.pid}-${workload}`;
  const report = (ops, ns, extra = {}) => {
    const secs = Number(ns) / 1e9;
    console.log(JSON.stringify({ impl, workload, value: ops / secs, secs, ...extra }));
  };
  const done = (server) => server.close();

  if (workload === 'pingpong') {
    const msg = Buffer.alloc(64, 1);
    const server = api.createServer((s) => s.on('data', (d) => s.write(d)));
    server.listen(name, () => {
      const c = api.connect(name);
      let left = count;
      let got = 0;
      let t0;
      c.on('connect', () => { t0 = process.hrtime.bigint(); c.write(msg); });
      c.on('data', (d) => {
        got += d.length;
        if (got < 64) return;
        got -= 64;
        if (--left > 0) { c.write(msg); return; }
        report(count, process.hrtime.bigint() - t0);
        c.destroy();
        done(server);
      });
    });
  } else if (workload === 'bulk') {
    const chunk = Buffer.alloc(64 * 1024, 2);
    const total = count * 1024 * 1024;
    let t0;
    const server = api.createServer((s) => {
      let n = 0;
      s.on('data', (d) => {
        n += d.length;
        if (n >= total) {
          report(total / 1e6, process.hrtime.bigint() - t0, { bytes: n });
          s.destroy();
          done(server);
        }
      });
    });
    server.listen(name, () => {
      const c = api.connect(name);
      c.on('error', () => {});
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!c.write(chunk)) return c.once('drain', pump);
        }
      };
      c.on('connect', () => { t0 = process.hrtime.bigint(); pump(); });
    });
  } else if (workload === 'connect') {
    const server = api.createServer((s) => s.end());
    server.listen(name, () => {
      let left = count;
      const t0 = process.hrtime.bigint();
      const one = () => {
        const c = api.connect(name);
        c.on('error', (e) => { console.error(e); process.exit(1); });
        c.resume();
        c.on('close', () => {
          if (--left > 0) return one();
          report(count, process.hrtime.bigint() - t0);
          done(server);
        });
      };
      one();
    });
  } else if (workload === 'ipc-oneway') {
    const child = api.fork(__filename, ['--ipc-child', String(count)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    child.once('message', (m) => {
      if (m !== 'ready') throw new Error(`child said ${m}`);
      const payload = 'x'.repeat(64);
      const t0 = process.hrtime.bigint();
      child.once('message', (n) => {
        if (n !== count) throw new Error(`the child got ${n} of ${count} messages`);
        report(count, process.hrtime.bigint() - t0, { received: n });
        child.disconnect();
      });
      for (let i = 0; i < count; i++) child.send({ i, kind: 'job', payload });
    });
  } else {
    throw new Error(`unknown workload ${workload}`);
  }
}

// The plain Node child of ipc-oneway: counts messages, answers once.
function ipcChild() {
  const want = Number(process.argv[3]);
  let n = 0;
  process.on('message', () => { if (++n === want) process.send(n); });
  process.send('ready');
}

// ---- on Linux: the driver ----------------------------------------------
function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
  if (opt('node')) process.env.PIPEWRAP_WIN_NODE = opt('node');
  const env = require('../scripts/win/env');
  const rounds = Number(opt('rounds', 5));
  const scale = Number(opt('scale', 1));
  const only = opt('only', null);
  const impl = opt('impl', 'pipewrap');
  env.requireReady();
  const fs = require('node:fs');
  if (impl === 'pipewrap' && !fs.existsSync(env.ADDON)) {
    console.error(`bench:win: ${path.basename(env.ADDON)} is not built: npm run build:win (or --impl node to bench Node against itself)`);
    process.exit(2);
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const fmt = (v) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1));
  const label = impl === 'node' ? 'node(B)' : 'pipewrap';

  (async () => {
    console.log(`bench:win: node.exe ${env.nodeVersion()} under Wine, ${rounds} rounds, scale ${scale}, ${impl === 'node' ? "Node vs Node (--impl node)" : 'pipewrap vs Node'}`);
    const rows = [];
    for (const [workload, unit, base] of WORKLOADS) {
      if (only && !only.split(',').includes(workload)) continue;
      const count = Math.max(1, Math.round(base * scale));
      const res = { a: [], b: [] };
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
        for (const side of order) {
          const which = side === 'a' ? impl : 'node';
          const run = await env.runNodeExe(['--no-deprecation', __filename, '--worker', which, workload, String(count)], { timeout: 300000, label: `${workload}-${which}` });
          const line = run.stdout.trim().split('\n').pop();
          let value;
          try {
            value = JSON.parse(line).value;
          } catch {
            console.error(`bench:win: ${workload} on ${which} failed (exit ${run.code}${run.timedOut ? ', timed out' : ''}):\n${run.stdout}${run.stderr}`);
            process.exit(1);
          }
          res[side].push(value);
        }
      }
      const a = median(res.a);
      const b = median(res.b);
      const paired = res.a.map((v, i) => v / res.b[i]);
      const row = { workload, unit, a, b, ratio: a / b, min: Math.min(...paired), max: Math.max(...paired) };
      rows.push(row);
      console.log(`${workload.padEnd(11)} ${label} ${fmt(a).padStart(9)}  node ${fmt(b).padStart(9)}  ${unit.padEnd(14)} ratio ${row.ratio.toFixed(2)}x (${row.min.toFixed(2)}..${row.max.toFixed(2)})`);
    }
    console.log('\n| workload | unit | ' + label + ' | Node | ratio | paired min..max |\n|---|---|---:|---:|---:|---|');
    for (const r of rows) console.log(`| ${r.workload} | ${r.unit} | ${fmt(r.a)} | ${fmt(r.b)} | ${r.ratio.toFixed(2)}× | ${r.min.toFixed(2)}..${r.max.toFixed(2)} |`);
  })().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
