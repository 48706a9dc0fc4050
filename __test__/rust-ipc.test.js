'use strict';
// The Rust worker example (examples/rust-worker, on the pipewrap-ipc crate)
// as the child of a Node parent: Node's own child_process.spawn with an
// 'ipc' stdio entry, and pipewrap's fork with the binary as execPath, in
// both serializations. Jobs in and results out, a bad job, a socket handed
// to the worker, disconnect, a killed worker.
//
// The before hook builds the binary with cargo (quick when it is up to
// date); without cargo the file fails, saying so.
const test = require('ava');
const assert = require('node:assert/strict');
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const pipewrap = require('..');

const root = path.join(__dirname, '..');
const bin = path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'release', 'rust-worker');

test.before(async (t) => {
  t.timeout(15 * 60 * 1000); // a cold release build, sharing the machine
  try {
    // cargo is a tool here, not code under test: a sanitizer runtime the
    // surrounding run preloads (npm run test:asan) must not reach rustc.
    const { LD_PRELOAD, ...env } = process.env;
    await promisify(execFile)('cargo', ['build', '--release', '-p', 'pipewrap-rust-worker'], {
      cwd: root,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    throw new Error(`cannot build the Rust worker (cargo build --release -p pipewrap-rust-worker): ${err.code === 'ENOENT' ? 'cargo not found' : err.stderr || err.message}`);
  }
  assert.ok(fs.existsSync(bin), `${bin} is missing after cargo build`);
});

const SERIALIZATIONS = ['json', 'advanced'];

// Starts the worker; ask(job[, handle]) resolves with the reply to that job.
function start(how, serialization) {
  const child = how === 'pipewrap.fork'
    ? pipewrap.fork(__filename, [], { execPath: bin, execArgv: [], serialization, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(bin, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization });
  const pending = new Map();
  const errors = [];
  let nextId = 1;
  child.on('message', (m) => {
    if (m && m.error) return errors.push(m.error);
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (p) p(m.result);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
  exited.then(() => clearTimeout(timer));
  const ask = (job, handle) => new Promise((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    child.send({ ...job, id }, handle);
  });
  return { child, ask, exited, errors };
}

for (const how of ['child_process.spawn', 'pipewrap.fork']) {
  for (const serialization of SERIALIZATIONS) {
    test(`${how}, ${serialization}: jobs go to the Rust worker and results come back`, async () => {
      const w = start(how, serialization);
      const [primes, checksum, echo] = await Promise.all([
        w.ask({ kind: 'primes', n: 1000 }),
        w.ask({ kind: 'checksum', data: Buffer.from('hello') }),
        w.ask({ kind: 'echo', value: { s: 'ß€😀', list: [1, 2.5, null, true], o: { deep: {} } } }),
      ]);
      assert.equal(primes, 168);
      assert.equal(checksum, '4f9f2cab'); // FNV-1a of "hello"
      assert.deepEqual(echo, { s: 'ß€😀', list: [1, 2.5, null, true], o: { deep: {} } });
      // Many jobs in flight at once all come back, each to its caller.
      const ns = Array.from({ length: 200 }, (_, i) => i);
      const counts = await Promise.all(ns.map((n) => w.ask({ kind: 'primes', n })));
      assert.equal(counts[100], 25);
      assert.equal(counts[2], 0);
      w.child.disconnect();
      assert.deepEqual(await w.exited, { code: 0, signal: null });
      assert.deepEqual(w.errors, []);
    });
  }
}

for (const serialization of SERIALIZATIONS) {
  test(`${serialization}: a bad job is an error reply and the worker goes on`, async () => {
    const w = start('child_process.spawn', serialization);
    w.child.send({ kind: 'no-such-job', id: 1 });
    w.child.send('not even an object');
    assert.equal(await w.ask({ kind: 'primes', n: 10 }), 4);
    assert.equal(w.errors.length, 2);
    assert.match(w.errors[0], /unknown variant `no-such-job`/);
    w.child.disconnect();
    assert.equal((await w.exited).code, 0);
  });

  test(`${serialization}: a socket handed to the Rust worker`, async () => {
    const w = start('child_process.spawn', serialization);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-rust-'));
    const sock = path.join(dir, 's.sock');
    const replies = [];
    const server = net.createServer((conn) => replies.push(w.ask({ kind: 'greet' }, conn)));
    await new Promise((resolve) => server.listen(sock, resolve));
    const client = net.connect(sock);
    let got = '';
    await new Promise((resolve) => client.on('data', (d) => {
      got += d;
      if (got.endsWith('\n')) resolve();
    }));
    assert.equal(got, 'hello from rust\n');
    assert.deepEqual(await Promise.all(replies), [true]);
    client.end();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
    // Without a handle the job says so.
    assert.equal(await w.ask({ kind: 'greet' }), false);
    w.child.disconnect();
    assert.equal((await w.exited).code, 0);
  });
}

test('a killed Rust worker: the parent sees disconnect and exit', async () => {
  const w = start('child_process.spawn', 'json');
  assert.equal(await w.ask({ kind: 'primes', n: 100 }), 25);
  const disconnected = new Promise((resolve) => w.child.on('disconnect', resolve));
  w.child.kill('SIGKILL');
  await disconnected;
  assert.deepEqual(await w.exited, { code: null, signal: 'SIGKILL' });
  assert.equal(w.child.connected, false);
});

test('the parent exiting ends the Rust worker (recv returns None)', async () => {
  // A Node parent in its own process starts the worker and exits without
  // disconnecting; the orphaned worker must notice and exit by itself.
  const script = `
    const { spawn } = require('node:child_process');
    const w = spawn(${JSON.stringify(bin)}, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    w.on('message', () => { console.log(w.pid); process.exit(0); });
    w.send({ kind: 'primes', n: 10, id: 1 });
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script]);
  const pid = Number(stdout.trim());
  assert.ok(pid > 0);
  const deadline = Date.now() + 10000;
  // Running, not a zombie waiting for whoever adopted it to reap it.
  const alive = () => {
    try {
      return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(), false, `worker ${pid} still running after its parent exited`);
});
