'use strict';
// npm run bench:clients [-- --rounds N --scale S --only a,b --pin split|same|none --json FILE]
//
// Real client libraries against real servers over Unix sockets, pipewrap
// swapped in for Node's net / child_process.fork the way a user would
// (bench/clients-worker.js says how, per library): node-postgres (`pg`)
// against PostgreSQL, `ioredis` against Redis, Node's http client and
// `undici` against nginx, and `workerpool` in process mode. For each workload, pipewrap and Node run alternating (A B / B A),
// each run a fresh client process, `--rounds` times (default 5); printed:
// medians of wall µs/op and client CPU µs/op (user + system of the client
// process over the timed window), the ratio Node / pipewrap of the medians
// (> 1: pipewrap is faster / spends less) and the min..max of the per-round
// paired ratios.
//
// NOT run by CI: it needs a PostgreSQL server, Redis and nginx installed on
// the machine (Debian/Ubuntu: `apt-get install postgresql redis-server
// nginx-light`). It
// starts its own instances in a temp dir, listening on Unix sockets only
// (no TCP port), and stops them at the end; run as root, PostgreSQL runs as
// the `postgres` user (or `nobody`), since it refuses to run as root.
//
// Placement (--pin): `split` (default) pins the client to the first allowed
// CPU and the servers (and workerpool's children) to the second, the shape
// of a client talking to a server on another core; `same` pins everything
// to the first CPU (every hop a context switch, where the client's CPU cost
// is on the critical path); `none` leaves it to the scheduler (bimodal for
// request/response, see bench/run.js).
//
// --perf DIR: instead of timing, runs each workload once per implementation
// under `perf record -g` (node --perf-prof, jitdump) and prints where the
// client's CPU went in its timed window, by category (bench/clients-perf.js),
// and the bound that the socket layer's share under Node sets: with that
// share at X, even a free socket layer is at most 1/(1-X) faster in client
// CPU. perf.data files are kept in DIR.
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const rounds = Number(opt('rounds', 5));
const scale = Number(opt('scale', 1));
const pin = opt('pin', 'split');
const only = opt('only', null);
const jsonOut = opt('json', null);
const perfDir = opt('perf', null);
const straceDir = opt('strace', null);
// --serve: start the servers, print their env (for running clients-worker.js by hand), wait.
// --node-args "...": extra node flags for the client runs (e.g. --cpu-prof --cpu-prof-dir=DIR).
const extraNodeArgs = (opt('node-args', '') || '').split(' ').filter(Boolean);

const ALL = [
  'pg-seq', 'pg-pool', 'pg-rows', 'redis-seq', 'redis-parallel', 'redis-pipeline',
  'http-seq', 'http-parallel', 'undici-seq', 'undici-parallel', 'pool-seq', 'pool-parallel',
];
const workloads = only ? only.split(',') : ALL;
for (const w of workloads) {
  if (!ALL.includes(w)) {
    console.error(`unknown workload ${w}; known: ${ALL.join(', ')}`);
    process.exit(2);
  }
}
if (!['split', 'same', 'none'].includes(pin)) {
  console.error('--pin must be split, same or none');
  process.exit(2);
}

// --- what is installed ----------------------------------------------------

function which(cmd) {
  for (const dir of (process.env.PATH || '').split(':')) {
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return null;
}

function pgBinDir() {
  const fromPath = which('postgres') || which('initdb');
  const candidates = [];
  if (fromPath) candidates.push(path.dirname(fs.realpathSync(fromPath)));
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  } catch {
    // no pg_config
  }
  try {
    const versions = fs.readdirSync('/usr/lib/postgresql').sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // not Debian's layout
  }
  return candidates.find((d) => fs.existsSync(path.join(d, 'postgres')) && fs.existsSync(path.join(d, 'initdb'))) || null;
}

const needsPg = workloads.some((w) => w.startsWith('pg-'));
const needsRedis = workloads.some((w) => w.startsWith('redis-'));
const needsNginx = workloads.some((w) => w.startsWith('http-') || w.startsWith('undici-'));
const missing = [];
const pgBin = needsPg ? pgBinDir() : null;
if (needsPg && !pgBin) missing.push('PostgreSQL (postgres, initdb)');
const redisBin = needsRedis ? which('redis-server') : null;
if (needsRedis && !redisBin) missing.push('Redis (redis-server)');
const nginxBin = needsNginx ? which('nginx') || ['/usr/sbin/nginx'].find((p) => fs.existsSync(p)) || null : null;
if (needsNginx && !nginxBin) missing.push('nginx');
const modules = [
  needsPg && 'pg', needsRedis && 'ioredis', workloads.some((w) => w.startsWith('undici-')) && 'undici',
  workloads.some((w) => w.startsWith('pool-')) && 'workerpool',
];
for (const mod of modules.filter(Boolean)) {
  try {
    require.resolve(mod);
  } catch {
    missing.push(`the npm package ${mod} (npm install)`);
  }
}
if (perfDir && !which('perf')) missing.push('perf for --perf (apt-get install linux-perf)');
if (straceDir && !which('strace')) missing.push('strace for --strace (apt-get install strace)');
if (missing.length) {
  console.error(`bench:clients needs ${missing.join(', ')}.\n` +
    'On Debian/Ubuntu: apt-get install postgresql redis-server nginx-light; then npm install in this checkout.\n' +
    '(Or pick workloads with --only, e.g. --only pool-seq,pool-parallel needs no server.)');
  process.exit(1);
}

// --- placement ----------------------------------------------------------------

const { allowedCpus } = require('./common');
const hasTaskset = Boolean(which('taskset')) && allowedCpus.length > 0;
let clientCpu = null;
let serverCpu = null;
if (pin !== 'none') {
  if (!hasTaskset) {
    console.log('taskset not available: running unpinned');
  } else if (pin === 'split' && allowedCpus.length < 2) {
    console.log('one CPU only: --pin split runs as --pin same');
    clientCpu = serverCpu = allowedCpus[0];
  } else {
    clientCpu = allowedCpus[0];
    serverCpu = pin === 'split' ? allowedCpus[1] : allowedCpus[0];
  }
}
// [file, argv] with a taskset prefix for `cpu` (null: unpinned).
const pinned = (cpu, file, argv) => (cpu === null ? [file, argv] : ['taskset', ['-c', String(cpu), file, ...argv]]);

// --- servers ------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pipewrap-clients-'));
fs.chmodSync(tmp, 0o755); // the PostgreSQL user must reach its socket dir
const servers = [];

// Stops the servers and waits (up to 10 s) for them to exit, then removes
// the temp dir.
async function stopServers() {
  await Promise.all(servers.map((s) => new Promise((resolve) => {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) return resolve();
    const t = setTimeout(resolve, 10000);
    s.proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    s.stop();
  })));
  cleanup();
}

function cleanup() {
  for (const s of servers) {
    try {
      s.stop();
    } catch {
      // already gone
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Resolves once `sockPath` accepts a connection.
async function waitForSocket(sockPath, proc, name, log) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${log()}`);
    }
    const ok = await new Promise((resolve) => {
      const c = net.connect(sockPath, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${name} did not listen on ${sockPath} within 30 s:\n${log()}`);
}

function serverUser() {
  if (process.getuid() !== 0) return null;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
      return { name, uid, gid };
    } catch {
      // next
    }
  }
  throw new Error('running as root and neither a postgres nor a nobody user exists to run PostgreSQL as');
}

async function startPostgres() {
  const dir = path.join(tmp, 'pg');
  const data = path.join(dir, 'data');
  fs.mkdirSync(dir);
  const user = serverUser();
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const as = user ? { uid: user.uid, gid: user.gid, env: { ...process.env, HOME: dir } } : {};
  const dbUser = 'bench';
  execFileSync(path.join(pgBin, 'initdb'), ['-D', data, '-U', dbUser, '-A', 'trust', '-E', 'UTF8', '--no-sync'], {
    ...as,
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = 5432; // only names the socket file (.s.PGSQL.5432 in our dir); no TCP
  const [file, argv] = pinned(serverCpu, path.join(pgBin, 'postgres'), [
    '-D', data, '-k', dir, '-p', String(port),
    '-c', 'listen_addresses=', '-c', 'fsync=off', '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off', '-c', 'max_connections=40', '-c', 'log_min_messages=warning',
  ]);
  let log = '';
  const proc = spawn(file, argv, { ...as, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr.on('data', (d) => (log += d));
  servers.push({
    proc,
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT'); // fast shutdown
    },
  });
  await waitForSocket(path.join(dir, `.s.PGSQL.${port}`), proc, 'postgres', () => log);
  return { PWC_PG_DIR: dir, PWC_PG_PORT: String(port), PWC_PG_USER: dbUser };
}

async function startRedis() {
  const dir = path.join(tmp, 'redis');
  fs.mkdirSync(dir);
  const sock = path.join(dir, 'redis.sock');
  const [file, argv] = pinned(serverCpu, redisBin, [
    '--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
  ]);
  await runServer(file, argv, dir, 'SIGTERM', sock, 'redis-server');
  return { PWC_REDIS: sock };
}

// Starts a server that logs to stdout/stderr, stopped with `signal`, and
// resolves once it accepts connections on `sock`.
async function runServer(file, argv, cwd, signal, sock, name) {
  let log = '';
  const proc = spawn(file, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  servers.push({
    proc,
    stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
  });
  await waitForSocket(sock, proc, name, () => log);
}

// nginx, one process (no master, no workers to spread), listening on a Unix
// socket only, answering the 100-byte body the HTTP workloads expect.
async function startNginx() {
  const dir = path.join(tmp, 'nginx');
  fs.mkdirSync(dir);
  const sock = path.join(dir, 'nginx.sock');
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, [
    'daemon off;', 'master_process off;', 'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`, 'error_log stderr warn;',
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;`,
    `  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;`,
    '  keepalive_requests 100000000; keepalive_timeout 600s;',
    `  server { listen unix:${sock}; default_type text/plain; location / { return 200 '${'x'.repeat(100)}'; } }`,
    '}',
  ].join('\n'));
  const [file, argv] = pinned(serverCpu, nginxBin, ['-c', conf, '-p', dir, '-e', 'stderr']);
  await runServer(file, argv, dir, 'SIGQUIT', sock, 'nginx'); // SIGQUIT: graceful
  return { PWC_HTTP: sock };
}

// --- runs -----------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function runOne(env, workload, impl, perfFile) {
  const nodeArgs = ['--no-deprecation', ...extraNodeArgs];
  // jitdump (--perf-prof, then perf inject --jit): JS code names by time, so
  // an address V8 reuses after a GC is not named after its old occupant
  // (a --perf-basic-prof map cannot tell them apart).
  if (perfFile) nodeArgs.push('--perf-prof', '--interpreted-frames-native-stack');
  let [file, argv] = pinned(clientCpu, process.execPath, [...nodeArgs, path.join(__dirname, 'clients-worker.js'), workload, impl]);
  if (straceDir) {
    // Syscall counts of the client process (its threads too, not its children).
    argv = ['-c', '-o', path.join(straceDir, `${workload}-${impl}.txt`), '--', file, ...argv];
    file = 'strace';
  } else if (perfFile) {
    argv = ['record', '-q', '-e', 'cpu-clock', '-F', '1999', '-g', '-k', 'mono', '-o', perfFile, '--', file, ...argv];
    file = 'perf';
  }
  // workerpool's children inherit the client's affinity; under --pin split
  // they go to the server CPU like the other servers.
  if (workload.startsWith('pool-') && serverCpu !== null && serverCpu !== clientCpu) env = { ...env, PWC_CHILD_CPU: String(serverCpu) };
  // Under --perf node writes its jit-<pid>.dump into the cwd: one dir per run.
  const cwd = perfFile ? fs.mkdtempSync(`${perfFile}-jit-`) : undefined;
  const out = execFileSync(file, argv, { env, cwd, timeout: 600000, stdio: ['ignore', 'pipe', 'inherit'] });
  const res = JSON.parse(out.toString().trim().split('\n').pop());
  if (perfFile) {
    execFileSync('perf', ['inject', '--jit', '-i', perfFile, '-o', `${perfFile}.jit`], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    fs.renameSync(`${perfFile}.jit`, perfFile);
  }
  return { wall: res.wallNs / 1000 / res.ops, cpu: res.cpuUs / res.ops, res };
}

async function profile(env) {
  const { report } = require('./clients-perf');
  fs.mkdirSync(perfDir, { recursive: true });
  const runs = [];
  for (const workload of workloads) {
    for (const impl of ['node', 'pipewrap']) {
      const file = path.join(perfDir, `${workload}-${impl}.data`);
      const m = runOne(env, workload, impl, file);
      fs.writeFileSync(path.join(perfDir, `${workload}-${impl}.json`), JSON.stringify(m.res));
      runs.push({ workload, impl, file, res: m.res });
    }
  }
  report(runs, perfDir);
}

// --strace DIR: each workload once per implementation under `strace -c`;
// prints the client's syscalls per op (setup and warm-up included, so
// approximate), by syscall.
async function syscalls(env) {
  fs.mkdirSync(straceDir, { recursive: true });
  for (const workload of workloads) {
    const per = {};
    for (const impl of ['node', 'pipewrap']) {
      const m = runOne(env, workload, impl);
      const ops = m.res.ops * 1.1; // + the warm-up (a tenth)
      const text = fs.readFileSync(path.join(straceDir, `${workload}-${impl}.txt`), 'utf8');
      for (const line of text.split('\n')) {
        const f = line.trim().split(/\s+/);
        if (f.length >= 5 && /^\d/.test(f[0]) && f[f.length - 1] !== 'total') {
          const calls = Number(f[3]);
          const name = f[f.length - 1];
          (per[name] ||= {})[impl] = calls / ops;
        }
      }
    }
    const rows = Object.entries(per).filter(([, v]) => (v.node || 0) + (v.pipewrap || 0) >= 0.01)
      .sort((a, b) => (b[1].node || 0) - (a[1].node || 0));
    console.log(`${workload}: syscalls per op (node / pipewrap): ` +
      rows.map(([k, v]) => `${k} ${(v.node || 0).toFixed(2)}/${(v.pipewrap || 0).toFixed(2)}`).join(', '));
  }
}

const fmt = (x) => (x >= 100 ? x.toFixed(1) : x.toFixed(2));

async function main() {
  const env = { ...process.env, PWC_SCALE: String(scale) };
  if (needsPg) Object.assign(env, await startPostgres());
  if (needsRedis) Object.assign(env, await startRedis());
  if (needsNginx) Object.assign(env, await startNginx());

  console.log(`node ${process.version}, ${rounds} rounds, scale ${scale}, placement ${pin}` +
    (clientCpu === null ? ' (unpinned)' : ` (client CPU ${clientCpu}, servers CPU ${serverCpu})`));
  if (args.includes('--serve')) {
    // Keep the servers up for manual runs of bench/clients-worker.js.
    console.log(Object.entries(env).filter(([k]) => k.startsWith('PWC_')).map(([k, v]) => `export ${k}=${v}`).join('\n'));
    console.log('# servers up; Ctrl-C (SIGINT/SIGTERM) stops them');
    await new Promise(() => {});
  }
  if (perfDir) {
    await profile(env);
    return;
  }
  if (straceDir) {
    await syscalls(env);
    return;
  }
  const rows = [];
  for (const workload of workloads) {
    const r = { workload, pipewrap: { wall: [], cpu: [] }, node: { wall: [], cpu: [] } };
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? ['pipewrap', 'node'] : ['node', 'pipewrap'];
      for (const impl of order) {
        const m = runOne(env, workload, impl);
        r[impl].wall.push(m.wall);
        r[impl].cpu.push(m.cpu);
      }
    }
    const paired = (k) => r.node[k].map((x, i) => x / r.pipewrap[k][i]);
    for (const k of ['wall', 'cpu']) {
      r[`${k}Ratio`] = median(r.node[k]) / median(r.pipewrap[k]);
      r[`${k}Paired`] = [Math.min(...paired(k)), Math.max(...paired(k))];
    }
    rows.push(r);
    console.log(`${workload.padEnd(15)} wall ${fmt(median(r.pipewrap.wall))} / ${fmt(median(r.node.wall))} µs/op ` +
      `${r.wallRatio.toFixed(2)}x   cpu ${fmt(median(r.pipewrap.cpu))} / ${fmt(median(r.node.cpu))} µs/op ${r.cpuRatio.toFixed(2)}x`);
  }

  console.log('');
  console.log('| workload | wall µs/op pipewrap | wall µs/op Node | wall ratio | paired min..max | CPU µs/op pipewrap | CPU µs/op Node | CPU ratio | paired min..max |');
  console.log('|---|---:|---:|---:|---|---:|---:|---:|---|');
  for (const r of rows) {
    console.log(`| ${r.workload} | ${fmt(median(r.pipewrap.wall))} | ${fmt(median(r.node.wall))} | ${r.wallRatio.toFixed(2)}× | ` +
      `${r.wallPaired.map((x) => x.toFixed(2)).join('..')} | ${fmt(median(r.pipewrap.cpu))} | ${fmt(median(r.node.cpu))} | ` +
      `${r.cpuRatio.toFixed(2)}× | ${r.cpuPaired.map((x) => x.toFixed(2)).join('..')} |`);
  }
  console.log('\nratio = Node / pipewrap of the medians (> 1: pipewrap faster / cheaper); CPU = user + system of the client process.');
  if (jsonOut) fs.writeFileSync(jsonOut, JSON.stringify({ node: process.version, rounds, scale, pin, rows }, null, 2));
}

main().then(
  () => stopServers().then(() => process.exit(0)),
  (err) => {
    console.error(err.stack || err);
    stopServers().then(() => process.exit(1));
  },
);
