'use strict';
// npm run bench [-- --rounds N --scale S --only a,b --quick --interleave --no-write]
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
const interleave = args.includes('--interleave');

const workloads = [
  ['pingpong', 'round trips/s', 1.25],
  ['bulk', 'MB/s', 1.2],
  ['connect', 'connections/s', 1.2],
  ['connect-end', 'connections/s', 1.3],
  // Reference, not a target: connect-end timed after 3000 untimed
  // connections (the JIT warmed up), in the same run.
  ['connect-end-warm', 'connections/s', null],
  ['fanin', 'messages/s', 1.2],
  ['ipc-oneway', 'messages/s', 2],
  ['ipc-oneway-small', 'messages/s', 2.5],
  ['ipc-oneway-nested', 'messages/s', 2.5],
  // Reference, not a target: the thinnest parent that has to encode these
  // messages (raw Pipe, JSON.stringify per message in the window, lines
  // written in 16 KiB groups) with the same plain child; `node` on Node's
  // internal Pipe, `pipewrap` on ours.
  ['ipc-oneway-nested-floor', 'messages/s', null],
  ['ipc-oneway-4k', 'messages/s', 2.5],
  ['ipc-oneway-buffer-adv', 'messages/s', 2.5],
  ['ipc-echo', 'round trips/s', 1.3],
  // Reference, not a target: the thinnest parent a Node process can run
  // (raw Pipe + JSON lines, no framework) with the same child; `node` uses
  // Node's internal Pipe, `pipewrap` ours.
  ['ipc-echo-floor', 'round trips/s', null],
  // ipc-echo with both processes pinned to one CPU (the parent's CPU cost is
  // then on the critical path), its in-Node floor pinned the same way, and
  // the same with pipewrap at both ends (`fork` parent + an `openChannel`
  // child, bench/ipc-child-open.js) against Node at both ends.
  ['ipc-echo-1cpu', 'round trips/s', 1.3],
  ['ipc-echo-floor-1cpu', 'round trips/s', null],
  // Reference, not a target: that floor delivering each message as Node's
  // channel does (one process.nextTick and an emit per message), the
  // thinnest parent that keeps Node's observable delivery.
  ['ipc-echo-floor-tick-1cpu', 'round trips/s', null],
  ['ipc-echo-both-1cpu', 'round trips/s', 1.6],
  // Reference, not a target: ipc-echo-floor with the same thin loop in the
  // child too (bench/ipc-child-floor.js), both on pipewrap's Pipe or both
  // on Node's: what any channel between two Node processes could reach.
  ['ipc-echo-both-floor-1cpu', 'round trips/s', null],
  ['ipc-echo-both-floor-tick-1cpu', 'round trips/s', null],
  ['raw-pingpong', 'round trips/s', 1.0],
  ['raw-bulk', 'MB/s', 1.0],
  // Two processes of the same implementation (bench/peer.js), the shape
  // users run; CPU/op counts both processes.
  ['xproc-pingpong', 'round trips/s', 1.5],
  ['xproc-pingpong-2cpu', 'round trips/s', null],
  // Reference, not a target: xproc-pingpong on the bare bindings (the peer's
  // raw-echo role), the floor under the net layers, pinned the same way.
  ['xproc-raw-pingpong', 'round trips/s', null],
  ['xproc-fanin', 'messages/s', null],
  ['xproc-bulk', 'MB/s', null],
  // Reference, not a target: xproc-bulk on the bare bindings (the peer's
  // raw-sink role): the floor under each net layer.
  ['xproc-raw-bulk', 'MB/s', null],
  ['idle', 'bytes/conn (lower is better)', null],
  // The same Node parent (child_process) and a child on Node's channel:
  // `pipewrap` = a Rust child on pipewrap-ipc (crates/ipc/examples/
  // bench_child.rs), `node` = a plain Node child (bench/ipc-child.js); run
  // by crates/ipc/bench/parent.js, CPU/op of the child.
  ['rust-ipc-echo', 'round trips/s', null],
  ['rust-ipc-oneway', 'messages/s', null],
].filter(([w]) => !only || only.split(',').includes(w));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// Limits for the event-loop-shaped workloads: the same shape as a Rust
// epoll loop with nothing else to do (crates/core/examples/epoll_limit.rs),
// run once per round next to the two implementations, so each fraction is
// taken in the same stretch of machine noise.
const limits = {
  pingpong: { mode: 'single', count: 100000, label: 'epoll, both ends in one thread' },
  'raw-pingpong': { mode: 'single', count: 100000, label: 'epoll, both ends in one thread' },
  'xproc-pingpong': { mode: 'pair', count: 50000, label: 'epoll, two processes on one CPU' },
  'xproc-pingpong-2cpu': { mode: 'pair', count: 10000, label: 'epoll, two processes on two CPUs' },
  'xproc-raw-pingpong': { mode: 'pair', count: 50000, label: 'epoll, two processes on one CPU' },
  // The best any parent can do with the same plain Node child: a blocking
  // Rust parent speaking the json protocol (crates/core/examples/
  // ipc_echo_limit.rs), pinned as the row is.
  'ipc-echo-1cpu': { example: 'ipc_echo_limit', count: 20000, label: 'blocking Rust parent, same plain Node child, one CPU' },
  // The plain Node child taking the same messages, all encoded before the
  // clock starts and handed over at once (bench/workload.js onewayBound),
  // while this process does the encoding every parent has to do in the
  // window (JSON.stringify and UTF-8 of each message) and nothing else: the
  // child as fast as it gets beside a parent that encodes (the encoding's
  // load on the other CPU slows it as any sender's does). A reference, not
  // a strict bound (a real parent's load overlaps the child differently).
  // CPU/op: the child's.
  'ipc-oneway-nested': {
    workload: 'ipc-oneway-nested-bound-busy',
    label: 'plain Node child fed pre-encoded messages at once while this process encodes them (and does nothing else)',
  },
  // The same child with nothing else running (no encoding in the window):
  // what it takes alone.
  'ipc-oneway-nested-floor': { workload: 'ipc-oneway-nested-bound', label: 'plain Node child fed pre-encoded messages in one write, nothing else running' },
};

// Cross-process ping-pong is bimodal when the scheduler places the two
// processes: on one CPU each hop is a context switch, on two it is a
// cross-CPU wake-up (in a VM, an IPI and an exit from idle), several times
// dearer. So both placements are pinned (taskset; the peer inherits the CPU,
// or gets PWB_PEER_CPU) and reported as separate rows, and their limits are
// pinned the same way.
const { allowedCpus } = require('./common');
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', String(allowedCpus[0] ?? 0), 'true'], { stdio: 'ignore' });
    return allowedCpus.length > 0;
  } catch {
    return false;
  }
})();
const placements = {
  'xproc-pingpong': { cpu: allowedCpus[0] },
  'xproc-raw-pingpong': { cpu: allowedCpus[0] },
  'xproc-pingpong-2cpu': { cpu: allowedCpus[0], peerCpu: allowedCpus[1] },
  // The forked child inherits the parent's CPU.
  'ipc-echo-1cpu': { cpu: allowedCpus[0] },
  'ipc-echo-floor-1cpu': { cpu: allowedCpus[0] },
  'ipc-echo-floor-tick-1cpu': { cpu: allowedCpus[0] },
  'ipc-echo-both-floor-tick-1cpu': { cpu: allowedCpus[0] },
  'ipc-echo-both-1cpu': { cpu: allowedCpus[0] },
  'ipc-echo-both-floor-1cpu': { cpu: allowedCpus[0] },
};
// [file, argv, env] for a command under a workload's placement.
function placed(workload, file, argv) {
  const p = placements[workload];
  if (!p || !hasTaskset) return [file, argv, process.env];
  const env = { ...process.env };
  if (p.peerCpu !== undefined) env.PWB_PEER_CPU = String(p.peerCpu);
  else delete env.PWB_PEER_CPU;
  return ['taskset', ['-c', String(p.cpu), file, ...argv], env];
}
const placementSkip = (workload) => {
  const p = placements[workload];
  if (!p) return null;
  if (!hasTaskset) return workload.endsWith('-2cpu') ? 'taskset not available' : null;
  if (p.peerCpu === undefined && p.cpu === undefined) return 'no CPU list';
  if ('peerCpu' in p && p.peerCpu === undefined) return 'fewer than 2 CPUs';
  return null;
};
const unpinned = (workload) => placements[workload] && !hasTaskset;

function runOne(impl, workload) {
  const nodeArgs = ['--no-deprecation'];
  if (workload === 'idle') nodeArgs.push('--expose-gc');
  let file = process.execPath;
  const script = workload.startsWith('rust-ipc-')
    ? path.join(__dirname, '..', 'crates', 'ipc', 'bench', 'parent.js')
    : path.join(__dirname, 'workload.js');
  let argv = [...nodeArgs, script, impl, workload, String(scale)];
  // idle holds 10k sockets per process: raise the soft fd limit to the hard
  // one first (Node cannot); the peer process inherits it.
  if (workload === 'idle') {
    argv = ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', file, ...argv];
    file = 'sh';
  }
  const [f, a, env] = placed(workload, file, argv);
  const out = execFileSync(f, a, {
    timeout: 300000,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.toString().trim().split('\n').pop());
}

// The built example binary, built with cargo when missing or older than its
// source (never in --quick); { skip: reason } when it cannot be had.
const binaries = {};
function exampleBinary(name) {
  if (binaries[name]) return binaries[name];
  const root = path.join(__dirname, '..');
  const bin = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'release', 'examples', name);
  const src = path.join(root, 'crates', 'core', 'examples', `${name}.rs`);
  const fresh = () => fs.existsSync(bin) && fs.statSync(bin).mtimeMs >= fs.statSync(src).mtimeMs;
  let result;
  if (fresh()) result = { bin };
  else if (quick) result = { skip: `${name} not built (--quick never runs cargo; cargo build --release -p pipewrap-core --examples)` };
  else {
    try {
      execFileSync('cargo', ['build', '--release', '-p', 'pipewrap-core', '--example', name], { cwd: root, timeout: 600000, stdio: ['ignore', 'inherit', 'inherit'] });
      result = fresh() ? { bin } : { skip: `cargo build did not produce ${bin}` };
    } catch (err) {
      result = { skip: err.code === 'ENOENT' ? 'cargo not found' : `cargo build failed (${err.message.split('\n')[0]})` };
    }
  }
  if (result.skip) console.log(`skipping the ${name} rows: ${result.skip}`);
  return (binaries[name] = result);
}

function runLimit(workload, { mode, count, example = 'epoll_limit', workload: boundWorkload }) {
  if (boundWorkload) {
    const res = runOne('pipewrap', boundWorkload);
    return { value: res.value, cpuPerOp: res.childCpuPerOp };
  }
  const ex = exampleBinary(example);
  if (ex.skip) return null;
  const n = String(Math.max(100, Math.round(count * scale)));
  const argv = example === 'ipc_echo_limit' ? [process.execPath, path.join(__dirname, 'ipc-child.js'), n] : [mode, n];
  const [f, a, env] = placed(workload, ex.bin, argv);
  const out = execFileSync(f, a, {
    timeout: 300000,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.toString().trim().split('\n').pop());
}

const rows = [];
// One row's measurements over the rounds.
function newRow(workload, unit, target) {
  return { workload, unit, target, pw: [], nd: [], pwCpu: [], ndCpu: [], pwExtra: [], ndExtra: [], lim: [], limCpu: [] };
}

// Round r of a row: both implementations (alternating which goes first),
// then its limit, if it has one.
function runRound(state, r) {
  const { workload, pw, nd, pwCpu, ndCpu, pwExtra, ndExtra, lim, limCpu } = state;
  const order = r % 2 === 0 ? ['pipewrap', 'node'] : ['node', 'pipewrap'];
  for (const impl of order) {
    const res = runOne(impl, workload);
    (impl === 'pipewrap' ? pw : nd).push(res.value);
    (impl === 'pipewrap' ? pwExtra : ndExtra).push(res);
    if (res.cpuPerOp !== undefined) (impl === 'pipewrap' ? pwCpu : ndCpu).push(res.cpuPerOp);
  }
  if (limits[workload]) {
    const res = runLimit(workload, limits[workload]);
    if (res) {
      lim.push(res.value);
      limCpu.push(res.cpuPerOp);
    }
  }
}

// Medians, ratios and limits of a row once its rounds are done; printed and
// added to `rows`.
function summarize(state) {
  const { workload, unit, target, pw, nd, pwCpu, ndCpu, pwExtra, ndExtra, lim, limCpu } = state;
  // CPU per operation of the process under test (for ipc-*, the parent):
  // the ratio Node / pipewrap, so > 1 means pipewrap spends less CPU.
  const cpu = pwCpu.length ? { pipewrap: median(pwCpu), node: median(ndCpu) } : null;
  if (cpu) cpu.ratio = cpu.node / cpu.pipewrap;
  const lowerBetter = workload === 'idle';
  const paired = pw.map((v, i) => (lowerBetter ? nd[i] / v : v / nd[i]));
  const ratio = lowerBetter ? median(nd) / median(pw) : median(pw) / median(nd);
  const row = { workload, unit, pipewrap: median(pw), node: median(nd), ratio, min: Math.min(...paired), max: Math.max(...paired), target, cpu };
  if (lim.length) {
    // Fractions of the limit: of the medians, and min..max per round (each
    // implementation against the limit run in the same round).
    const per = (xs) => xs.map((v, i) => v / lim[i]);
    row.limit = {
      ...limits[workload],
      value: median(lim),
      cpuPerOp: limCpu.every((c) => typeof c === 'number') ? median(limCpu) : null,
      pipewrap: median(pw) / median(lim),
      node: median(nd) / median(lim),
      pwRange: [Math.min(...per(pw)), Math.max(...per(pw))],
      ndRange: [Math.min(...per(nd)), Math.max(...per(nd))],
    };
  }
  if (workload === 'idle') {
    const split = (xs, k) => median(xs.map((x) => x[k] ?? NaN));
    row.idle = {
      connections: pwExtra[0]?.connections,
      pipewrap: { server: split(pwExtra, 'serverBytes'), client: split(pwExtra, 'clientBytes') },
      node: { server: split(ndExtra, 'serverBytes'), client: split(ndExtra, 'clientBytes') },
    };
  }
  rows.push(row);
  console.log(
    `${workload.padEnd(19)} pipewrap ${fmt(row.pipewrap).padStart(10)}  node ${fmt(row.node).padStart(10)}  ${unit.padEnd(28)} ratio ${row.ratio.toFixed(2)}x (${row.min.toFixed(2)}..${row.max.toFixed(2)})${target ? ` target ${target}x` : ''}` +
      (cpu ? `  cpu/op ${cpu.pipewrap.toFixed(2)} vs ${cpu.node.toFixed(2)} us (${cpu.ratio.toFixed(2)}x)` : ''),
  );
  if (row.limit) console.log(`${''.padEnd(19)} ${limitText(row.limit, unit)}`);
  // ipc-*: the child's CPU per operation too (from /proc, 10 ms ticks), and
  // parent + child: with both on one CPU the rate is about 1 / that sum, and
  // it is steadier than the rate when neighbours take the CPU.
  const childCpu = (xs) => xs.map((x) => x.childCpuPerOp).filter((c) => typeof c === 'number');
  if (cpu && childCpu(pwExtra).length === rounds && childCpu(ndExtra).length === rounds) {
    const sum = (xs) => median(xs.map((x) => x.cpuPerOp + x.childCpuPerOp));
    row.cpuBoth = { pipewrap: sum(pwExtra), node: sum(ndExtra), pwChild: median(childCpu(pwExtra)), ndChild: median(childCpu(ndExtra)) };
    const b = row.cpuBoth;
    console.log(`${''.padEnd(19)} child cpu/op ${b.pwChild.toFixed(2)} vs ${b.ndChild.toFixed(2)} us; parent + child ${b.pipewrap.toFixed(2)} vs ${b.node.toFixed(2)} us (${(b.node / b.pipewrap).toFixed(2)}x)`);
  }
  if (row.idle) console.log(`${''.padEnd(19)} ${idleText(row.idle)}`);
}

// Rows run one after another, each through all its rounds; with
// --interleave the rounds are outermost (round 1 of every row, then round 2
// in reverse order, ...), so rows compared with each other (a row and its
// floor) see the same stretch of machine noise.
const states = [];
for (const [workload, unit, target] of workloads) {
  const skip = placementSkip(workload);
  if (skip) {
    console.log(`${workload.padEnd(19)} skipped: ${skip}`);
    continue;
  }
  if (unpinned(workload)) console.log(`${workload}: taskset not available, running unpinned (the rate is bimodal)`);
  const state = newRow(workload, unit, target);
  if (interleave) {
    states.push(state);
    continue;
  }
  for (let r = 0; r < rounds; r++) runRound(state, r);
  summarize(state);
}
for (let r = 0; r < rounds && states.length; r++) {
  // Every other round in reverse, so no row always runs just before another.
  for (const state of r % 2 ? [...states].reverse() : states) runRound(state, r);
  console.log(`round ${r + 1} of ${rounds} done`);
}
for (const state of states) summarize(state);

function pct(x) {
  return `${(x * 100).toFixed(0)}%`;
}

function limitText(l, unit) {
  return `limit (${l.label}): ${fmt(l.value)} ${unit} (${(1 / l.node).toFixed(2)}x Node's median)${l.cpuPerOp === null ? '' : `, cpu/op ${l.cpuPerOp.toFixed(2)} us`}; pipewrap ${pct(l.pipewrap)} of it (${pct(l.pwRange[0])}..${pct(l.pwRange[1])}), node ${pct(l.node)} (${pct(l.ndRange[0])}..${pct(l.ndRange[1])})`;
}

function idleText(i) {
  const side = (x) => `${fmt(x.server + x.client)} (server end ${fmt(x.server)} + client end ${fmt(x.client)})`;
  return `at ${i.connections} connections, bytes RSS per connection: pipewrap ${side(i.pipewrap)}, node ${side(i.node)}`;
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

function limitLines() {
  const lr = rows.filter((r) => r.limit);
  if (!lr.length) return [];
  return [
    '## Limits',
    '',
    'What an event loop with nothing else to do reaches in the same shape: a Rust epoll loop (non-blocking Unix sockets, level-triggered epoll, one read per readable event, as libuv does; `crates/core/examples/epoll_limit.rs`), run once per round next to the two implementations; for ipc-echo-1cpu, the blocking Rust parent of `crates/core/examples/ipc_echo_limit.rs` with the same plain Node child, pinned as the row; for ipc-oneway-nested, the same plain Node child fed every message pre-encoded at once while the measuring process encodes them all in the window, the one cost every parent has (`bench/workload.js ipc-oneway-nested-bound-busy`), and for its floor row the child with nothing else running (`ipc-oneway-nested-bound`; CPU/op: the child). Fraction = median rate / median limit; min..max per round against the limit of the same round.',
    '',
    '| workload | limit | limit rate | limit CPU µs/op | pipewrap fraction | paired min..max | Node fraction | paired min..max |',
    '|---|---|---:|---:|---:|---|---:|---|',
    ...lr.map((r) => {
      const l = r.limit;
      const src = l.workload ? `bench/workload.js ${l.workload}` : l.example ?? `epoll_limit ${l.mode}`;
      return `| ${r.workload} | ${l.label} (\`${src}\`) | ${fmt(l.value)} ${r.unit} | ${l.cpuPerOp === null ? '–' : l.cpuPerOp.toFixed(2)} | ${pct(l.pipewrap)} | ${pct(l.pwRange[0])}..${pct(l.pwRange[1])} | ${pct(l.node)} | ${pct(l.ndRange[0])}..${pct(l.ndRange[1])} |`;
    }),
    '',
  ];
}

function idleLines() {
  const r = rows.find((x) => x.idle);
  if (!r) return [];
  const i = r.idle;
  return [
    `Idle memory: ${i.connections} idle connections, the server ends in the measuring process and the client ends in a peer process of the same implementation, RSS growth of each after GC, per connection (medians): pipewrap ${fmt(i.pipewrap.server)} (server end) + ${fmt(i.pipewrap.client)} (client end) = ${fmt(i.pipewrap.server + i.pipewrap.client)} bytes; Node ${fmt(i.node.server)} + ${fmt(i.node.client)} = ${fmt(i.node.server + i.node.client)} bytes.`,
    '',
  ];
}

if (!noWrite) {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# pipewrap benchmark results',
    '',
    `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}; Node ${process.version}.`,
    `Rounds: ${rounds} (alternating A B / B A, each run a fresh process${interleave ? '; interleaved: round 1 of every row, then round 2, ...' : ''}), scale ${scale}. Medians; ratio = pipewrap / Node (idle: Node / pipewrap, so > 1 is better); min..max are the per-round paired ratios.`,
    '',
    '| workload | unit | pipewrap | Node | ratio | paired min..max | target | CPU µs/op pipewrap | CPU µs/op Node | CPU ratio |',
    '|---|---|---:|---:|---:|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.workload} | ${r.unit} | ${fmt(r.pipewrap)} | ${fmt(r.node)} | ${r.ratio.toFixed(2)}× | ${r.min.toFixed(2)}..${r.max.toFixed(2)} | ${r.target ? r.target + '×' : '–'} | ${r.cpu ? r.cpu.pipewrap.toFixed(2) : '–'} | ${r.cpu ? r.cpu.node.toFixed(2) : '–'} | ${r.cpu ? r.cpu.ratio.toFixed(2) + '×' : '–'} |`),
    '',
    'CPU µs/op: user + system CPU time of the measuring process per operation (per MB for bulk) over the timed window, for ipc-* the parent only (the side under test), for xproc-* both processes (both are the implementation under test). On a shared machine it is steadier than the rate, which also counts time spent waiting for neighbours; CPU ratio = Node / pipewrap, so > 1 means pipewrap spends less.',
    '',
    `xproc-*: two processes of the same implementation (\`bench/peer.js\`; pipewrap's net layer for pipewrap, \`node:net\` for Node), the shape of examples/brother-process. xproc-pingpong: the client here, the echo server in the peer, ${hasTaskset ? `both pinned to CPU ${allowedCpus[0]}` : 'unpinned (taskset not available)'}; xproc-pingpong-2cpu: the same with the peer pinned to CPU ${allowedCpus[1]} (every hop a cross-CPU wake-up). Left to the scheduler a run lands in one placement or the other, so unpinned rates are bimodal; fanin and bulk are not, and run unpinned. xproc-fanin: the echo server here, 200 client connections in the peer, each 100 request/response round trips. xproc-bulk: 512 MiB in 64 KiB writes from here to a sink in the peer. xproc-raw-pingpong and xproc-raw-bulk: the same on the bare bindings (pipewrap's Pipe, Node's internal pipe_wrap Pipe), no net layer: the floor under each net layer.`,
    '',
    ...limitLines(),
    ...idleLines(),
    limit ? `Physical reference (blocking Rust client/server threads, \`cargo run --release -p pipewrap-core --example limit\`): ${limit}` : '',
    ipcBound ? `\nipc-echo bound: the child is plain Node for both parents, so no parent can beat this. Best possible parent (blocking Rust speaking the json channel protocol to the same child, \`--example ipc_echo_limit\`): ${ipcBound}.` : '',
    '',
    'The `node` column is Node\'s built-in: `net` over a Unix socket, `child_process.fork`, and for raw-* the internal `process.binding(\'pipe_wrap\')` Pipe.',
    '',
  ];
  fs.writeFileSync(path.join(__dirname, 'RESULTS.md'), lines.join('\n').replace(/\n{3,}/g, '\n\n'));
  console.log('wrote bench/RESULTS.md');
}
