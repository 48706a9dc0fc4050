'use strict';
// pipewrap fork() as the parent, a plain Node child using process.send().
const test = require('ava');
const assert = require('node:assert');
const os = require('os');
const fs = require('fs');
const path = require('path');
const { fork } = require('../lib/ipc');
const { fixture, guard, events, message, opIs } = require('./fixtures/ipc-helpers');

const NODE_CHILD = fixture('ipc-node-child.js');
const T = { timeout: 60000 };

for (const mode of ['json', 'advanced']) {
  test(`fork (${mode}): plain Node child, echo both ways, internal commands, order`, async (t) => {
    t.timeout(T.timeout);
    const child = fork(NODE_CHILD, ['a1', 'a2'], { serialization: mode });
    const exited = guard(child);
    const spawned = events(child, 'spawn');
    const ready = await message(child, opIs('ready'));
    await spawned;
    assert.strictEqual(ready.pid, child.pid);
    assert.strictEqual(ready.channelFdEnv, null, 'Node deletes NODE_CHANNEL_FD at startup');
    assert.strictEqual(child.connected, true);
    assert.strictEqual(typeof child.channel.ref, 'function');

    child.send({ op: 'info' });
    const info = await message(child, opIs('info'));
    assert.deepStrictEqual(info.argv, ['a1', 'a2']);
    assert.strictEqual(info.channelEnv, null);

    const values = ['hello', 42, -0.5, true, false, null, { a: [1, 2, { b: 'c' }] }, 'äöü ß 🎉', ''];
    const echoes = events(child, 'message', values.length + 1, (m) => m && 'echo' in m);
    for (const v of values) assert.strictEqual(child.send(v), true);
    child.send({ cmd: 'NODE_pipewrap_internal' }); // internal: Node's child does not echo it
    child.send({ cmd: 'fooNODE_' });
    assert.deepStrictEqual((await echoes).map((e) => e[0].echo), [...values, { cmd: 'fooNODE_' }]);

    // Parent -> child -> parent, in order.
    const N = 3000;
    const back = events(child, 'message', N, (m) => m && m.echo && typeof m.echo.i === 'number');
    for (let i = 0; i < N; i++) child.send({ i });
    assert.deepStrictEqual((await back).map((e) => e[0].echo.i), Array.from({ length: N }, (_, i) => i));

    // Child -> parent burst.
    const seqs = events(child, 'message', N, (m) => m && typeof m.seq === 'number');
    child.send({ op: 'burst', n: N });
    assert.deepStrictEqual((await seqs).map((e) => e[0].seq), Array.from({ length: N }, (_, i) => i));

    const order = [];
    child.on('disconnect', () => order.push('disconnect'));
    child.on('exit', (code, signal) => order.push(['exit', code, signal]));
    const closed = events(child, 'close');
    child.disconnect();
    assert.strictEqual(child.connected, false);
    const [[code, signal]] = await closed;
    order.push('close');
    assert.deepStrictEqual([code, signal], [0, null]);
    assert.deepStrictEqual(order, ['disconnect', ['exit', 0, null], 'close']);
    assert.strictEqual(child.channel, null);
    assert.strictEqual((await exited).timedOut, false);
  });

  test(`fork (${mode}): multi-megabyte multibyte message both ways`, async (t) => {
    t.timeout(T.timeout);
    const child = fork(NODE_CHILD, { serialization: mode });
    const exited = guard(child, 60000);
    await message(child, opIs('ready'));
    const text = 'ßü€🎉\u2028"\\\n'.repeat(250000); // ~4.75 MB of UTF-8
    const echoed = message(child, (m) => m && 'echo' in m);
    child.send(text);
    assert.ok((await echoed).echo === text, 'echoed text differs');
    const big = message(child, opIs('big'));
    child.send({ op: 'big', unit: 'ß🎉', count: 600000 });
    assert.ok((await big).text === 'ß🎉'.repeat(600000));
    child.disconnect();
    assert.deepStrictEqual((await exited), { code: 0, signal: null, timedOut: false });
  });
}

test('fork (advanced): Buffer, Uint8Array, Map, Set, BigInt, Date round-trip', async (t) => {
  t.timeout(T.timeout);
  const child = fork(NODE_CHILD, { serialization: 'advanced' });
  const exited = guard(child);
  await message(child, opIs('ready'));
  const value = {
    buf: Buffer.from('buffer bytes'),
    u8: new Uint8Array([1, 2, 3, 255]),
    i32: new Int32Array([-1, 2 ** 31 - 1]),
    map: new Map([['k', { v: 1 }], [2, new Set([3])]]),
    set: new Set(['a', 1, 2n]),
    big: -123456789012345678901234567890n,
    date: new Date('2024-02-29T12:34:56.789Z'),
    sparse: [1, , 3], // eslint-disable-line no-sparse-arrays
    huge: Buffer.alloc(4 * 1024 * 1024 + 3, 0xab),
  };
  child.send(value);
  const { echo } = await message(child, (m) => m && 'echo' in m);
  assert.strictEqual(Buffer.from(echo.buf).toString(), 'buffer bytes');
  assert.ok(echo.u8 instanceof Uint8Array);
  assert.deepStrictEqual([...echo.u8], [1, 2, 3, 255]);
  assert.ok(echo.i32 instanceof Int32Array);
  assert.deepStrictEqual([...echo.i32], [-1, 2 ** 31 - 1]);
  assert.deepStrictEqual(echo.map, value.map);
  assert.deepStrictEqual(echo.set, value.set);
  assert.strictEqual(echo.big, value.big);
  assert.ok(echo.date instanceof Date && echo.date.getTime() === value.date.getTime());
  assert.strictEqual(1 in echo.sparse, false);
  assert.ok(Buffer.from(echo.huge.buffer, echo.huge.byteOffset, echo.huge.byteLength).equals(value.huge));
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: options cwd, env, execArgv, silent, stdio', async (t) => {
  t.timeout(T.timeout);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-ipc-'));
  try {
    const child = fork(NODE_CHILD, ['x'], {
      cwd: dir, env: { ...process.env, PIPEWRAP_TEST_VAR: 'v1' }, execArgv: ['--no-warnings'], silent: true,
    });
    const exited = guard(child);
    assert.ok(child.stdout && child.stderr && child.stdin, 'silent gives pipes');
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    await message(child, opIs('ready'));
    child.send({ op: 'info' });
    const info = await message(child, opIs('info'));
    assert.strictEqual(info.cwd, fs.realpathSync(dir));
    assert.strictEqual(info.env, 'v1');
    assert.deepStrictEqual(info.execArgv, ['--no-warnings']);
    assert.strictEqual(info.mode, null);
    child.send({ op: 'print', text: 'to stdout' });
    child.send({ op: 'exit', code: 5 });
    const [[code]] = await events(child, 'close');
    assert.strictEqual(code, 5);
    assert.strictEqual(out, 'to stdout');
    assert.strictEqual((await exited).timedOut, false);

    // stdio array: 'ipc' may be anywhere; it becomes NODE_CHANNEL_FD.
    const c2 = fork(NODE_CHILD, { stdio: ['pipe', 'ignore', 'inherit', 'ignore', 'ipc'] });
    const e2 = guard(c2);
    assert.ok(c2.stdin && !c2.stdout);
    await message(c2, opIs('ready'));
    c2.send('ping');
    assert.deepStrictEqual(await message(c2), { echo: 'ping', gotHandle: false });
    c2.disconnect();
    assert.strictEqual((await e2).code, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fork: argument validation', () => {
  assert.throws(() => fork(NODE_CHILD, { serialization: 'xml' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => fork(NODE_CHILD, { stdio: ['pipe', 'pipe', 'pipe'] }), { code: 'ERR_CHILD_PROCESS_IPC_REQUIRED' });
  assert.throws(() => fork(NODE_CHILD, { stdio: ['ipc', 'ipc'] }), { code: 'ERR_IPC_ONE_PIPE' });
  assert.throws(() => fork(123), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('fork: send() argument errors, send after disconnect -> ERR_IPC_CHANNEL_CLOSED', async (t) => {
  t.timeout(T.timeout);
  const child = fork(NODE_CHILD);
  const exited = guard(child);
  await message(child, opIs('ready'));
  assert.throws(() => child.send(undefined), { code: 'ERR_MISSING_ARGS', name: 'TypeError' });
  assert.throws(() => child.send(() => {}), { code: 'ERR_INVALID_ARG_TYPE', name: 'TypeError' });
  assert.throws(() => child.send(Symbol('s')), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => child.send('x', { not: 'a handle' }), { code: 'ERR_INVALID_HANDLE_TYPE' });
  assert.throws(() => child.send('x', null, 'bad options'), { code: 'ERR_INVALID_ARG_TYPE' });
  // A message that cannot be serialized throws and leaves the channel usable.
  assert.throws(() => child.send({ big: 1n }), TypeError);
  child.send('still fine');
  assert.deepStrictEqual(await message(child), { echo: 'still fine', gotHandle: false });

  const sent = [];
  child.send('with callback', (err) => sent.push(err));
  const disconnected = events(child, 'disconnect');
  child.disconnect();
  await disconnected;

  const viaCallback = new Promise((resolve) => {
    assert.strictEqual(child.send('late', resolve), false);
  });
  assert.strictEqual((await viaCallback).code, 'ERR_IPC_CHANNEL_CLOSED');
  const viaEvent = events(child, 'error');
  assert.strictEqual(child.send('late'), false);
  assert.strictEqual((await viaEvent)[0][0].code, 'ERR_IPC_CHANNEL_CLOSED');
  const again = events(child, 'error');
  child.disconnect();
  assert.strictEqual((await again)[0][0].code, 'ERR_IPC_DISCONNECTED');
  assert.deepStrictEqual(sent, [null]);
  assert.strictEqual((await exited).code, 0);
});

test('fork: peer SIGKILL -> disconnect, then exit, then close', async (t) => {
  t.timeout(T.timeout);
  for (let round = 0; round < 5; round++) {
    const child = fork(NODE_CHILD);
    const exited = guard(child);
    await message(child, opIs('ready'));
    child.send({ op: 'hang' });
    await message(child, opIs('hanging'));
    const order = [];
    child.on('disconnect', () => order.push('disconnect'));
    child.on('exit', (code, signal) => order.push(`exit ${code} ${signal}`));
    const closed = events(child, 'close');
    process.kill(child.pid, 'SIGKILL');
    await closed;
    order.push('close');
    assert.deepStrictEqual(order, ['disconnect', 'exit null SIGKILL', 'close']);
    assert.strictEqual(child.connected, false);
    assert.strictEqual((await exited).timedOut, false);
  }
});

test('fork: child exit -> disconnect, exit(code), close; kill()', async (t) => {
  t.timeout(T.timeout);
  const child = fork(NODE_CHILD);
  await message(child, opIs('ready'));
  const order = [];
  child.on('disconnect', () => order.push('disconnect'));
  child.on('exit', (code, signal) => order.push(`exit ${code} ${signal}`));
  child.send({ op: 'exit', code: 7 });
  await events(child, 'close');
  assert.deepStrictEqual(order, ['disconnect', 'exit 7 null']);

  const c2 = fork(NODE_CHILD);
  await message(c2, opIs('ready'));
  assert.strictEqual(c2.kill(), true);
  const [[code, signal]] = await events(c2, 'exit');
  assert.deepStrictEqual([code, signal, c2.killed], [null, 'SIGTERM', true]);
});

test('fork: malformed line from a raw peer -> error, later messages still arrive', async (t) => {
  t.timeout(T.timeout);
  const child = fork(fixture('ipc-raw-peer.js'), ['3', 'malformed']);
  const exited = guard(child);
  const seen = [];
  child.on('error', (err) => seen.push(['error', err.code]));
  child.on('message', (m) => seen.push(['message', m]));
  await message(child, (m) => m && m.n === 2);
  assert.deepStrictEqual(seen, [
    ['message', { n: 1 }],
    ['error', 'ERR_IPC_BAD_MESSAGE'],
    ['message', 'ßü🎉'],
    ['message', { n: 2 }],
  ]);
  assert.strictEqual(child.connected, true);
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork (advanced): undecodable frame -> error, next frame still arrives', async (t) => {
  t.timeout(T.timeout);
  const child = fork(fixture('ipc-raw-peer.js'), ['3', 'advanced-junk'], { serialization: 'advanced' });
  const exited = guard(child);
  const seen = [];
  child.on('error', (err) => seen.push(['error', err.code]));
  child.on('message', (m) => seen.push(['message', m]));
  await message(child, (m) => m === 2);
  assert.deepStrictEqual(seen, [['error', 'ERR_IPC_BAD_MESSAGE'], ['message', 2]]);
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: maxMessageSize exceeded -> ERR_IPC_MESSAGE_TOO_LARGE, then disconnect', async (t) => {
  t.timeout(T.timeout);
  for (const [mode, how] of [['json', 'big'], ['advanced', 'big'], ['json', 'raw']]) {
    const child = how === 'raw' ?
      fork(fixture('ipc-raw-peer.js'), ['3', 'huge-json'], { maxMessageSize: 100000 }) :
      fork(NODE_CHILD, { serialization: mode, maxMessageSize: 100000 });
    const exited = guard(child);
    const order = [];
    child.on('error', (err) => order.push(err.code));
    child.on('disconnect', () => order.push('disconnect'));
    if (how === 'big') {
      await message(child, opIs('ready'));
      child.send({ op: 'big', unit: 'ab', count: 10000 }); // 20 kB: fine
      assert.strictEqual((await message(child, opIs('big'))).text.length, 20000);
      child.send({ op: 'big', unit: 'ab', count: 100000 }); // 200 kB: too large
    }
    await events(child, 'close');
    assert.deepStrictEqual(order, ['ERR_IPC_MESSAGE_TOO_LARGE', 'disconnect'], `${mode} ${how}`);
    assert.strictEqual((await exited).timedOut, false);
  }
  assert.throws(() => fork(NODE_CHILD, { maxMessageSize: 0 }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('fork: send() returns false under backpressure, nothing is lost', async (t) => {
  t.timeout(T.timeout);
  const child = fork(NODE_CHILD);
  const exited = guard(child);
  await message(child, opIs('ready'));
  const chunk = 'q'.repeat(64 * 1024);
  const results = [];
  for (let i = 0; i < 40; i++) results.push(child.send({ i, chunk }));
  assert.strictEqual(results[0], true);
  assert.ok(results.includes(false), 'writeQueueSize passed 128 KiB');
  const back = await events(child, 'message', 40, (m) => m && m.echo);
  assert.deepStrictEqual(back.map((e) => e[0].echo.i), Array.from({ length: 40 }, (_, i) => i));
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: messages are buffered until a message listener exists', async (t) => {
  t.timeout(T.timeout);
  const child = fork(NODE_CHILD);
  const exited = guard(child);
  const spawned = events(child, 'spawn');
  await spawned;
  // No 'message' listener yet: 'ready' and the echo wait for one.
  child.send('early');
  child.send({ op: 'mark' }); // answered after the echo, as an internal message
  await events(child, 'internalMessage', 1, (m) => m.cmd === 'NODE_PIPEWRAP_MARK');
  const got = await events(child, 'message', 2);
  assert.deepStrictEqual(got.map((e) => e[0].op || e[0].echo), ['ready', 'early']);
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: child.unref() + child.channel.unref() let the parent exit', async (t) => {
  t.timeout(T.timeout);
  const { spawn } = require('child_process');
  const parent = spawn(process.execPath, [fixture('ipc-unref-parent.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  parent.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  // The pid may arrive after 'exit' (guard() resolves on 'exit'), so wait for
  // it too; 'end' never comes while the orphaned child holds the pipe.
  const printed = new Promise((resolve) => parent.stdout.once('data', resolve));
  const [r] = await Promise.all([guard(parent, 15000), printed]);
  const pid = Number(out);
  assert.ok(pid > 0);
  let alive = true;
  try {
    process.kill(pid, 'SIGKILL'); // the child outlived its parent
  } catch {
    alive = false;
  }
  assert.deepStrictEqual([r.code, r.timedOut, alive], [0, false, true]);
});

// The kernel can release a dead child's end of the channel a little after
// its exit is reported (seen once in CI, under load). Made certain here: a
// grandchild holds the channel, and is killed once the child's death is
// known (Node's signalCode) and a few quiet loop turns have passed, where
// 'exit' used to go out.
// One run of the late-EOF scenario: a grandchild holds the channel, the
// child dies, and the grandchild is killed a few quiet turns later. Returns
// the events in order, with their times from the last turn at which the
// child was still alive (its exit came after that).
async function lateEofRun(t) {
  const child = fork(fixture('ipc-grandchild-holder.js'));
  const exited = guard(child);
  assert.strictEqual(await message(child), 'ready');
  let grandchild = null;
  child.on('message', (m) => {
    if (m && m.op === 'grandchild') grandchild = m.pid;
  });
  t.teardown(() => {
    try {
      if (grandchild !== null) process.kill(grandchild, 'SIGKILL');
    } catch {
      // gone already
    }
  });
  const order = [];
  let aliveAt = 0;
  child.on('disconnect', () => order.push(['disconnect', performance.now() - aliveAt]));
  child.on('exit', (code, signal) => order.push([`exit ${code} ${signal}`, performance.now() - aliveAt]));
  const closed = events(child, 'close');
  child.send({ op: 'go', count: 10, release: path.join(os.tmpdir(), 'pw-never-released') });
  while (child.signalCode !== 'SIGKILL') {
    aliveAt = performance.now();
    await new Promise((resolve) => setImmediate(resolve));
  }
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  const beforeKill = order.map(([event]) => event);
  assert.notStrictEqual(grandchild, null, "the grandchild's pid came before the child died");
  process.kill(grandchild, 'SIGKILL');
  await closed;
  await exited;
  return { beforeKill, order };
}

test("fork: a channel EOF that comes shortly after the child's exit still goes out before 'exit'", async (t) => {
  t.timeout(T.timeout * 4);
  // 'exit' waits EXIT_WAITS_FOR_EOF_MS (500 ms) from the exit for the EOF,
  // never less. 'exit' first within that time is the bug; 'exit' first
  // after it means this machine stalled longer than the window (seen in CI
  // under load): that run shows nothing either way, and the scenario runs
  // again.
  const WINDOW_MS = 500;
  for (let attempt = 1; ; attempt++) {
    const { beforeKill, order } = await lateEofRun(t);
    const [first, at] = order[0];
    if (first.startsWith('exit') && at >= WINDOW_MS - 5 && attempt < 4) {
      t.log(`attempt ${attempt}: 'exit' went out ${Math.round(at)} ms after the exit, past the window; again`);
      continue;
    }
    assert.deepStrictEqual(beforeKill, [], "neither 'exit' nor 'disconnect' yet: the grandchild holds the channel");
    assert.deepStrictEqual(order.map(([event]) => event), ['disconnect', 'exit null SIGKILL']);
    break;
  }
});

test("fork: what the dead child sent arrives before 'exit'; a grandchild holding the channel delays only 'disconnect', as in Node", async (t) => {
  t.timeout(T.timeout);
  const child = fork(fixture('ipc-grandchild-holder.js'));
  const exited = guard(child);
  assert.strictEqual(await message(child), 'ready');
  const order = [];
  const count = 2000;
  child.on('message', (m) => {
    if (m && m.seq === count - 1) order.push('last message');
  });
  // The grandchild holds the channel until the test saw 'exit' (a file it
  // polls for), so EOF cannot come first however slow the machine.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-holder-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const release = path.join(dir, 'release');
  child.on('disconnect', () => order.push('disconnect'));
  child.on('exit', (code, signal) => {
    order.push(`exit ${code} ${signal}`);
    fs.writeFileSync(release, '');
  });
  const closed = events(child, 'close');
  child.send({ op: 'go', count, release });
  await closed;
  assert.deepStrictEqual(order, ['last message', 'exit null SIGKILL', 'disconnect']);
  await exited;
});
