'use strict';
// A real Node parent (child_process.spawn with an 'ipc' stdio entry) talking
// to a child that opened the channel with pipewrap's openChannel().
const test = require('ava');
const assert = require('node:assert');
const { fixture, guard, events, message, opIs, spawnNodeParentChannel } =
  require('./fixtures/ipc-helpers');

const OPEN_CHILD = fixture('ipc-open-child.js');
const T = { timeout: 60000 };

for (const mode of ['json', 'advanced']) {
  test(`Node parent <-> openChannel child (${mode}): echo, internal commands, order`, async (t) => {
    t.timeout(T.timeout);
    const child = spawnNodeParentChannel(OPEN_CHILD, { mode });
    const exited = guard(child);
    const ready = await message(child, opIs('ready'));
    assert.strictEqual(ready.pid, child.pid);

    const values = ['hello', 42, -0.5, true, false, null, { a: [1, 2, { b: 'c' }] }, 'äöü ß 🎉', ''];
    const echoes = events(child, 'message', values.length + 1, (m) => m && 'echo' in m);
    for (const v of values) assert.strictEqual(child.send(v), true);
    // Internal commands are not user messages; 'fooNODE_' and 'NODE_' are.
    child.send({ cmd: 'NODE_pipewrap_internal' });
    child.send({ cmd: 'fooNODE_' });
    const got = (await echoes).map((e) => e[0].echo);
    assert.deepStrictEqual(got, [...values, { cmd: 'fooNODE_' }]);

    const N = 3000;
    const seqs = events(child, 'message', N, (m) => m && typeof m.seq === 'number');
    const done = message(child, opIs('burst-done'));
    child.send({ op: 'burst', n: N, pad: 'x'.repeat(50) });
    const msgs = await seqs;
    assert.deepStrictEqual(msgs.map((e) => e[0].seq), Array.from({ length: N }, (_, i) => i));
    assert.strictEqual((await done).n, N);

    const disconnected = events(child, 'disconnect');
    child.disconnect();
    await disconnected;
    const { code, signal, timedOut } = await exited;
    assert.deepStrictEqual({ code, signal, timedOut }, { code: 0, signal: null, timedOut: false });
  });

  test(`Node parent <-> openChannel child (${mode}): multi-megabyte multibyte message both ways`, async (t) => {
    t.timeout(T.timeout);
    const child = spawnNodeParentChannel(OPEN_CHILD, { mode });
    const exited = guard(child, 60000);
    await message(child, opIs('ready'));
    const unit = 'ßü€🎉\u2028"\\\n';
    const text = unit.repeat(200000); // ~3.8 MB of UTF-8
    const back = message(child, (m) => m && 'echo' in m);
    child.send(text);
    assert.ok((await back).echo === text, 'echoed text differs');
    const big = message(child, opIs('big'));
    child.send({ op: 'big', unit: 'ß🎉', count: 500000 });
    const got = (await big).text;
    assert.strictEqual(got.length, 'ß🎉'.length * 500000);
    assert.ok(got === 'ß🎉'.repeat(500000));
    child.send({ op: 'bye' });
    await events(child, 'disconnect');
    assert.strictEqual((await exited).code, 0);
  });
}

test('Node parent <-> openChannel child (advanced): structured clone types', async (t) => {
  t.timeout(T.timeout);
  const child = spawnNodeParentChannel(OPEN_CHILD, { mode: 'advanced' });
  const exited = guard(child);
  await message(child, opIs('ready'));
  const value = {
    buf: Buffer.from('buffer bytes'),
    u8: new Uint8Array([1, 2, 3, 255]),
    f64: new Float64Array([1.5, -2.25]),
    map: new Map([['k', { v: 1 }], [2, 'two']]),
    set: new Set(['a', 1, 2n]),
    big: 12345678901234567890n,
    date: new Date('2024-02-29T12:34:56.789Z'),
    re: /x+y/gi,
    nested: [undefined, NaN, -0],
    bigBuffer: Buffer.alloc(3 * 1024 * 1024, 7),
  };
  child.send(value);
  const { echo } = await message(child, (m) => m && 'echo' in m);
  assert.ok(Buffer.isBuffer(echo.buf) || echo.buf instanceof Uint8Array);
  assert.strictEqual(Buffer.from(echo.buf).toString(), 'buffer bytes');
  assert.ok(echo.u8 instanceof Uint8Array);
  assert.deepStrictEqual([...echo.u8], [1, 2, 3, 255]);
  assert.ok(echo.f64 instanceof Float64Array);
  assert.deepStrictEqual([...echo.f64], [1.5, -2.25]);
  assert.deepStrictEqual(echo.map, value.map);
  assert.deepStrictEqual(echo.set, value.set);
  assert.strictEqual(echo.big, value.big);
  assert.ok(echo.date instanceof Date);
  assert.strictEqual(echo.date.getTime(), value.date.getTime());
  assert.strictEqual(String(echo.re), String(value.re));
  assert.ok(Object.is(echo.nested[2], -0) && Number.isNaN(echo.nested[1]) && echo.nested[0] === undefined);
  assert.strictEqual(echo.bigBuffer.length, value.bigBuffer.length);
  assert.ok(Buffer.from(echo.bigBuffer).equals(value.bigBuffer));
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('openChannel child: maxMessageSize exceeded -> ERR_IPC_MESSAGE_TOO_LARGE and disconnect', async (t) => {
  t.timeout(T.timeout);
  for (const mode of ['json', 'advanced']) {
    const child = spawnNodeParentChannel(OPEN_CHILD, { mode, env: { PIPEWRAP_IPC_MAX: '1000' }, stderr: 'pipe' });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    const exited = guard(child);
    await message(child, opIs('ready'));
    child.send('z'.repeat(900)); // within the limit
    assert.strictEqual((await message(child, (m) => m && 'echo' in m)).echo, 'z'.repeat(900));
    const disconnected = events(child, 'disconnect');
    child.send('y'.repeat(5000));
    await disconnected;
    const { code, timedOut } = await exited;
    assert.deepStrictEqual([code, timedOut], [0, false], mode);
    await new Promise((resolve) => (child.stderr.readableEnded ? resolve() : child.stderr.once('end', resolve)));
    assert.match(err, /ERR_IPC_MESSAGE_TOO_LARGE/, mode);
  }
});

test('openChannel child: unreferenced without listeners, referenced with them', async (t) => {
  t.timeout(T.timeout);
  // No 'message' listener: the child exits although the parent keeps the
  // channel open.
  const a = spawnNodeParentChannel(fixture('ipc-open-oneshot.js'));
  const aExit = guard(a, 10000);
  await message(a, opIs('ready'));
  const ra = await aExit;
  assert.deepStrictEqual([ra.code, ra.timedOut], [0, false]);

  // With a listener it stays until the parent disconnects, then sees
  // 'disconnect' (exit code 42 set in its handler).
  const b = spawnNodeParentChannel(fixture('ipc-open-oneshot.js'), { args: ['listen'] });
  const bExit = guard(b, 10000);
  await message(b, opIs('ready'));
  b.send('still there?');
  assert.deepStrictEqual(await message(b), { echo: 'still there?' });
  b.disconnect();
  const rb = await bExit;
  assert.deepStrictEqual([rb.code, rb.timedOut], [42, false]);
});

test('openChannel child: send after disconnect -> ERR_IPC_CHANNEL_CLOSED', async (t) => {
  t.timeout(T.timeout);
  const child = spawnNodeParentChannel(fixture('ipc-open-oneshot.js'),
                                       { args: ['closed-send'], stdout: 'pipe' });
  const exited = guard(child, 10000);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  await message(child, opIs('ready'));
  await events(child, 'disconnect');
  const r = await exited;
  assert.deepStrictEqual([r.code, r.timedOut], [0, false]);
  await new Promise((resolve) => (child.stdout.readableEnded ? resolve() : child.stdout.once('end', resolve)));
  assert.deepStrictEqual(JSON.parse(out), {
    results: [false, false, 'ERR_IPC_CHANNEL_CLOSED', 'ERR_IPC_CHANNEL_CLOSED'],
    second: 'ERR_IPC_DISCONNECTED',
  });
});
