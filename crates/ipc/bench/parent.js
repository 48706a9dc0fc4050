'use strict';
// One run of a rust-ipc-* benchmark row (bench/run.js runs it):
//   node crates/ipc/bench/parent.js <pipewrap|node|rust-blocking> <rust-ipc-echo|rust-ipc-oneway> [scale]
// The same Node parent (Node's own child_process, json serialization)
// drives either a Rust child on pipewrap-ipc (`pipewrap`,
// crates/ipc/examples/bench_child.rs) or a plain Node child (`node`,
// bench/ipc-child.js); `rust-blocking` is the echo bound (the Rust child
// with blocking I/O and no runtime). Prints one JSON line: { value, unit,
// cpuPerOp } where cpuPerOp is the CHILD's CPU time per message in µs (the
// side that differs), from /proc/<pid>/schedstat.
const { execFileSync, fork, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const [impl, workload, scaleArg] = process.argv.slice(2);
const scale = Number(scaleArg || 1);
const root = path.join(__dirname, '..', '..', '..');
const bin = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'release', 'examples', 'bench_child');

// Build the Rust child when missing or older than its sources.
function ensureBinary() {
  const sources = [
    path.join(__dirname, '..', 'examples', 'bench_child.rs'),
    ...fs.readdirSync(path.join(__dirname, '..', 'src')).map((f) => path.join(__dirname, '..', 'src', f)),
  ];
  const newest = Math.max(...sources.map((f) => fs.statSync(f).mtimeMs));
  if (fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= newest) return;
  execFileSync('cargo', ['build', '--release', '-p', 'pipewrap-ipc', '--example', 'bench_child'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 900000,
  });
}

function startChild(mode, count) {
  const stdio = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (impl === 'node') return fork(path.join(root, 'bench', 'ipc-child.js'), [mode, String(count)], { stdio });
  ensureBinary();
  const m = impl === 'rust-blocking' ? `${mode}-blocking` : mode;
  return spawn(bin, [m, String(count)], { stdio });
}

// The child's time on CPU in seconds (user + system), from schedstat's
// nanoseconds (stat's utime/stime tick at 10 ms, too coarse for --quick).
function childCpu(pid) {
  return Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
}

function finish(child, ops, t0, cpu0, unit) {
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = childCpu(child.pid) - cpu0;
  child.kill();
  console.log(JSON.stringify({ value: ops / s, unit, cpuPerOp: (cpu * 1e6) / ops }));
}

if (workload === 'rust-ipc-echo') {
  const count = Math.round(20000 * scale);
  const child = startChild('echo', 0);
  child.once('message', (m) => {
    if (m !== 'ready') throw new Error('expected ready');
    let left = count;
    const t0 = process.hrtime.bigint();
    const cpu0 = childCpu(child.pid);
    child.on('message', () => {
      if (--left === 0) return finish(child, count, t0, cpu0, 'round trips/s');
      child.send({ n: left });
    });
    child.send({ n: left });
  });
} else if (workload === 'rust-ipc-oneway') {
  if (impl === 'rust-blocking') throw new Error('rust-blocking is an echo bound only');
  const count = Math.round(50000 * scale);
  const child = startChild('oneway', count);
  child.once('message', (m) => {
    if (m !== 'ready') throw new Error('expected ready');
    const t0 = process.hrtime.bigint();
    const cpu0 = childCpu(child.pid);
    child.once('message', (m2) => {
      if (m2 !== 'done') throw new Error('bad reply');
      finish(child, count, t0, cpu0, 'messages/s');
    });
    for (let i = 0; i < count; i++) child.send({ i, kind: 'tick', payload: 'abcdefgh' });
  });
} else {
  throw new Error(`unknown workload ${workload}`);
}
