'use strict';
// npm run bench [-- --rounds N --scale S --only a,b --quick]
// Runs every workload for pipewrap and Node's built-in in the same run,
// alternating A B / B A over the rounds, each run in a fresh process. Prints
// medians, the ratio pipewrap/Node of the medians, and the min..max of the
// per-round (paired) ratios; writes the table to bench/RESULTS.md.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const quick = args.includes('--quick');
const rounds = Number(opt('rounds', quick ? 1 : 5));
const scale = Number(opt('scale', quick ? 0.05 : 1));
const only = opt('only', null);
const noWrite = args.includes('--no-write') || quick;

const workloads = [
  ['pingpong', 'round trips/s', 1.25],
  ['bulk', 'MB/s', 1.2],
  ['connect', 'connections/s', 1.2],
  ['fanin', 'messages/s', 1.2],
  ['ipc-oneway', 'messages/s', 2],
  ['ipc-echo', 'round trips/s', 1.3],
  // Reference, not a target: the thinnest parent a Node process can run
  // (raw Pipe + JSON lines, no framework) with the same child; `node` uses
  // Node's internal Pipe, `pipewrap` ours.
  ['ipc-echo-floor', 'round trips/s', null],
  ['raw-pingpong', 'round trips/s', 1.0],
  ['raw-bulk', 'MB/s', 1.0],
  ['idle', 'bytes/conn (lower is better)', null],
].filter(([w]) => !only || only.split(',').includes(w));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function runOne(impl, workload) {
  const nodeArgs = ['--no-deprecation'];
  if (workload === 'idle') nodeArgs.push('--expose-gc');
  const out = execFileSync(process.execPath, [...nodeArgs, path.join(__dirname, 'workload.js'), impl, workload, String(scale)], {
    timeout: 300000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.toString().trim().split('\n').pop());
}

const rows = [];
for (const [workload, unit, target] of workloads) {
  const pw = [];
  const nd = [];
  const pwCpu = [];
  const ndCpu = [];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['pipewrap', 'node'] : ['node', 'pipewrap'];
    for (const impl of order) {
      const res = runOne(impl, workload);
      (impl === 'pipewrap' ? pw : nd).push(res.value);
      if (res.cpuPerOp !== undefined) (impl === 'pipewrap' ? pwCpu : ndCpu).push(res.cpuPerOp);
    }
  }
  // CPU per operation of the process under test (for ipc-*, the parent):
  // the ratio Node / pipewrap, so > 1 means pipewrap spends less CPU.
  const cpu = pwCpu.length ? { pipewrap: median(pwCpu), node: median(ndCpu) } : null;
  if (cpu) cpu.ratio = cpu.node / cpu.pipewrap;
  const lowerBetter = workload === 'idle';
  const paired = pw.map((v, i) => (lowerBetter ? nd[i] / v : v / nd[i]));
  const ratio = lowerBetter ? median(nd) / median(pw) : median(pw) / median(nd);
  const row = { workload, unit, pipewrap: median(pw), node: median(nd), ratio, min: Math.min(...paired), max: Math.max(...paired), target, cpu };
  rows.push(row);
  console.log(
    `${workload.padEnd(13)} pipewrap ${fmt(row.pipewrap).padStart(10)}  node ${fmt(row.node).padStart(10)}  ${unit.padEnd(28)} ratio ${row.ratio.toFixed(2)}x (${row.min.toFixed(2)}..${row.max.toFixed(2)})${target ? ` target ${target}x` : ''}` +
      (cpu ? `  cpu/op ${cpu.pipewrap.toFixed(2)} vs ${cpu.node.toFixed(2)} us (${cpu.ratio.toFixed(2)}x)` : ''),
  );
}

const limit = rustLimit();
if (limit) console.log(`limit (blocking Rust pair over UnixStream::pair): ${limit}`);
const ipcBound = ipcEchoBound();
if (ipcBound) console.log(`ipc-echo bound (blocking Rust parent, same plain Node child): ${ipcBound}`);

function fmt(v) {
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

function cargoExample(name, args = []) {
  const out = execFileSync('cargo', ['run', '--quiet', '--release', '-p', 'pipewrap-core', '--example', name, '--', ...args], {
    cwd: path.join(__dirname, '..'),
    timeout: 300000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.toString().trim();
}

function rustLimit() {
  if (quick || only) return null;
  try {
    return cargoExample('limit');
  } catch (err) {
    return `not measured (${err.message.split('\n')[0]})`;
  }
}

// ipc-echo's child is plain Node for every parent, so its speed bounds what
// any parent can gain: measure the best possible parent (blocking Rust, no
// event loop) against the same child, as many rounds as the others.
function ipcEchoBound() {
  const row = rows.find((r) => r.workload === 'ipc-echo');
  if (quick || !row) return null;
  try {
    const count = String(Math.round(20000 * scale));
    const values = [];
    for (let r = 0; r < rounds; r++) {
      const out = cargoExample('ipc_echo_limit', [process.execPath, path.join(__dirname, 'ipc-child.js'), count]);
      values.push(JSON.parse(out.split('\n').pop()).value);
    }
    const m = median(values);
    return `${fmt(m)} round trips/s, ${(m / row.node).toFixed(2)}x Node's median`;
  } catch (err) {
    return `not measured (${err.message.split('\n')[0]})`;
  }
}

if (!noWrite) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# pipewrap benchmark results',
    '',
    `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; Node ${process.version}.`,
    `Rounds: ${rounds} (alternating A B / B A, each run a fresh process), scale ${scale}. Medians; ratio = pipewrap / Node (idle: Node / pipewrap, so > 1 is better); min..max are the per-round paired ratios.`,
    '',
    '| workload | unit | pipewrap | Node | ratio | paired min..max | target | CPU µs/op pipewrap | CPU µs/op Node | CPU ratio |',
    '|---|---|---:|---:|---:|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.workload} | ${r.unit} | ${fmt(r.pipewrap)} | ${fmt(r.node)} | ${r.ratio.toFixed(2)}× | ${r.min.toFixed(2)}..${r.max.toFixed(2)} | ${r.target ? r.target + '×' : '–'} | ${r.cpu ? r.cpu.pipewrap.toFixed(2) : '–'} | ${r.cpu ? r.cpu.node.toFixed(2) : '–'} | ${r.cpu ? r.cpu.ratio.toFixed(2) + '×' : '–'} |`),
    '',
    'CPU µs/op: user + system CPU time of the measuring process per operation (per MB for bulk) over the timed window, for ipc-* the parent only (the side under test). On a shared machine it is steadier than the rate, which also counts time spent waiting for neighbours; CPU ratio = Node / pipewrap, so > 1 means pipewrap spends less.',
    '',
    limit ? `Physical reference (blocking Rust client/server threads, \`cargo run --release -p pipewrap-core --example limit\`): ${limit}` : '',
    ipcBound ? `\nipc-echo bound: the child is plain Node for both parents, so no parent can beat this. Best possible parent (blocking Rust speaking the json channel protocol to the same child, \`--example ipc_echo_limit\`): ${ipcBound}.` : '',
    '',
    'The `node` column is Node\'s built-in: `net` over a Unix socket, `child_process.fork`, and for raw-* the internal `process.binding(\'pipe_wrap\')` Pipe.',
    '',
  ];
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), lines.join('\n'));
  console.log('wrote bench/RESULTS.md');
}
