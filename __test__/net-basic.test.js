'use strict';
// Client/server basics of lib/net.js over real Unix sockets.

const test = require('ava');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const path = require('node:path');
const { StringDecoder } = require('node:string_decoder');

const net = require('../lib/net');
const { tmpdir, callCounter, once, listen, closeServer, collect, sha256, runScript, spawnReady, NET } = require('./net-helpers');

const T = { timeout: 20000 };

function echoServer(opts) {
  return net.createServer(opts, (s) => s.pipe(s));
}

// Resolves on the next check-phase turn of the loop where pred() holds.
function until(pred) {
  return new Promise((resolve) => {
    const poll = () => (pred() ? resolve() : setImmediate(poll));
    poll();
  });
}

test('connect(path, cb), connect({ path }), createConnection, new Socket().connect', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  const server = await listen(echoServer(), p);

  const variants = [
    (cb) => net.connect(p, cb),
    (cb) => net.connect({ path: p }, cb),
    (cb) => net.createConnection({ path: p }, cb),
    (cb) => net.createConnection(p).on('connect', cb),
    (cb) => new net.Socket().connect(p, cb),
    (cb) => new net.Socket().connect({ path: p }).once('connect', cb),
  ];
  for (const make of variants) {
    let sock;
    const connected = new Promise((resolve) => {
      sock = make(calls.must(function onConnect() {
        assert.equal(this, sock);
        resolve();
      }));
    });
    assert.ok(sock instanceof net.Socket);
    assert.equal(sock.connecting, true);
    assert.equal(sock.pending, true);
    assert.equal(sock.readyState, 'opening');
    const ready = once(sock, 'ready');
    await connected;
    await ready;
    assert.equal(sock.connecting, false);
    assert.equal(sock.pending, false);
    assert.equal(sock.readyState, 'open');
    assert.deepEqual(sock.address(), {});
    assert.equal(sock.remoteAddress, undefined);
    assert.equal(sock.remotePort, undefined);
    sock.end('ping');
    assert.equal((await collect(sock)).toString(), 'ping');
    await once(sock, 'close');
  }
  await closeServer(server);
});

test('echo round trip; events end/finish/close(hadError=false); bytes counters survive destroy', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  let serverSide;
  const server = await listen(net.createServer(calls.must((s) => {
    serverSide = s;
    assert.equal(s.server, server);
    s.pipe(s);
  })), p);

  const payload = 'héllo wörld ✓ '.repeat(100);
  const bytes = Buffer.byteLength(payload);
  const client = net.connect(p);
  client.on('finish', calls.must());
  client.on('end', calls.must());
  const closed = once(client, 'close');
  client.end(payload);
  const echoed = await collect(client);
  assert.equal(echoed.toString(), payload);
  const [hadError] = await closed;
  assert.equal(hadError, false);
  assert.equal(client.destroyed, true);
  assert.equal(client.bytesWritten, bytes);
  assert.equal(client.bytesRead, bytes);
  if (!serverSide.destroyed) await once(serverSide, 'close');
  assert.equal(serverSide.bytesRead, bytes);
  assert.equal(serverSide.bytesWritten, bytes);
  await closeServer(server);
});

test('writes issued while connecting are held until connected', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  let received;
  const server = await listen(net.createServer((s) => { received = collect(s); s.resume(); }), p);
  const client = net.connect(p);
  assert.equal(client.connecting, true);
  client.write('a');
  client.write(Buffer.from('b'));
  client.write('63', 'hex');
  client.end('d');
  // Counted as written already (buffered in the stream), like Node.
  assert.equal(client.bytesWritten, 4);
  await once(client, 'finish');
  await until(() => received !== undefined);
  assert.equal((await received).toString(), 'abcd');
  client.destroy();
  await closeServer(server);
});

test('corked writes go through _writev (buffers-only and mixed encodings)', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  let received;
  const server = await listen(net.createServer((s) => { received = collect(s); }), p);
  const client = net.connect(p);
  await once(client, 'connect');

  const writev = client._writev;
  client._writev = calls.must(function (chunks, cb) {
    return writev.call(this, chunks, cb);
  }, 3);

  // Record the form handed to the binding: one Buffer (a small all-Buffer
  // batch is joined), a Buffer list, or [chunk, enc] pairs.
  const forms = [];
  const handle = client._handle;
  const handleWritev = handle.writev;
  handle.writev = function (req, chunks, allBuffers) {
    forms.push(allBuffers ? `buffers:${chunks.length}` : `pairs:${chunks.length / 2}`);
    return handleWritev.call(this, req, chunks, allBuffers);
  };
  const handleWriteBuffer = handle.writeBuffer;
  handle.writeBuffer = function (req, data) {
    forms.push(`buffer:${data.length}`);
    return handleWriteBuffer.call(this, req, data);
  };

  client.cork();
  client.write(Buffer.from('one,'));
  client.write(Buffer.from('two,'));
  client.uncork();
  await until(() => client.writableLength === 0);

  // Over 4 KiB in all: the Buffers go as a list.
  const big = [Buffer.alloc(3000, 'x'), Buffer.alloc(3000, 'y')];
  client.cork();
  client.write(big[0]);
  client.write(big[1]);
  client.uncork();
  await until(() => client.writableLength === 0);

  client.cork();
  client.write('drei,', 'utf8');
  client.write('cafe', 'hex'); // not a native writev encoding: converted in JS
  client.write('ü,', 'latin1');
  client.write(Buffer.from('four,'));
  client.write('5,', 'ucs2');
  client.write('€', 'utf8');
  client.uncork();
  client.end();

  await until(() => received !== undefined);
  const got = await received;
  const expected = Buffer.concat([
    Buffer.from('one,two,'), ...big, Buffer.from('drei,'), Buffer.from('cafe', 'hex'), Buffer.from('ü,', 'latin1'),
    Buffer.from('four,'), Buffer.from('5,', 'ucs2'), Buffer.from('€'),
  ]);
  assert.deepEqual(got, expected);
  assert.deepEqual(forms, ['buffer:8', 'buffers:2', 'pairs:6']);
  await closeServer(server);
});

test('large transfer (8 MiB each way) with backpressure: write() false, drain, hash match', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  const SIZE = 8 * 1024 * 1024;
  const CHUNK = 64 * 1024;
  const up = crypto.randomBytes(SIZE);
  const down = crypto.randomBytes(SIZE);

  async function pump(sock, data) {
    let falses = 0;
    let drains = 0;
    sock.on('drain', () => drains++);
    for (let off = 0; off < data.length; off += CHUNK) {
      if (!sock.write(data.subarray(off, off + CHUNK))) {
        falses++;
        await new Promise((resolve) => sock.once('drain', resolve));
      }
    }
    sock.end();
    await once(sock, 'finish');
    return { falses, drains };
  }

  let serverStats;
  let serverGot;
  // Half-open on both ends: each side may finish sending after the other.
  const server = await listen(net.createServer({ allowHalfOpen: true }, (s) => {
    serverGot = collect(s);
    serverStats = pump(s, down);
  }), p);

  const client = net.connect({ path: p, allowHalfOpen: true });
  const clientGot = collect(client);
  await once(client, 'connect');
  const clientStats = await pump(client, up);
  const [gotDown, gotUp, sStats] = await Promise.all([clientGot, serverGot, serverStats]);

  assert.equal(gotUp.length, SIZE);
  assert.equal(gotDown.length, SIZE);
  assert.equal(sha256(gotUp), sha256(up));
  assert.equal(sha256(gotDown), sha256(down));
  for (const s of [clientStats, sStats]) {
    assert.ok(s.falses > 0, 'write() returned false at least once');
    assert.equal(s.drains, s.falses, 'one drain per false write()');
  }
  if (!client.destroyed) await once(client, 'close');
  assert.equal(client.bytesWritten, SIZE);
  assert.equal(client.bytesRead, SIZE);
  await closeServer(server);
});

test('kernel backpressure: a write the paused peer cannot take stays queued', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  const SIZE = 4 * 1024 * 1024; // well above a Unix socket's kernel buffers
  let serverSide;
  const server = await listen(net.createServer({ pauseOnConnect: true }, (s) => { serverSide = s; }), p);
  const client = net.connect(p);
  await once(client, 'connect');
  await until(() => serverSide !== undefined);

  const data = crypto.randomBytes(SIZE);
  assert.equal(client.write(data), false);
  // Let the loop spin a few times: the peer is not reading, so the write
  // cannot complete.
  for (let i = 0; i < 20; i++) await new Promise(setImmediate);
  assert.equal(client.writableLength, SIZE);
  assert.equal(client.bufferSize, SIZE);

  const drained = once(client, 'drain');
  const got = collect(serverSide);
  serverSide.resume(); // pauseOnConnect: a 'data' listener alone does not resume
  await drained;
  client.end();
  assert.equal(sha256(await got), sha256(data));
  await closeServer(server);
});

test('allowHalfOpen: false ends our side on EOF; true keeps writing after the peer ends', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const dir = tmpdir(t);

  // Default (false): the server side ends automatically when the client does.
  const p1 = path.join(dir, 'a');
  const s1 = await listen(net.createServer(calls.must((s) => {
    assert.equal(s.allowHalfOpen, false);
    s.on('end', calls.must(() => {
      // Node behaviour: once the peer ended and we are not half-open, a
      // write after our own end() fails with EPIPE "ended by the other party".
      s.end();
      s.on('error', calls.must((err) => {
        assert.equal(err.code, 'EPIPE');
        assert.match(err.message, /ended by the other party/);
      }));
      assert.equal(s.write('too late'), false);
    }));
    s.resume();
  })), p1);
  const c1 = net.connect(p1);
  c1.end('bye');
  const got1 = await collect(c1); // gets EOF because the server ended too
  assert.equal(got1.length, 0);
  await closeServer(s1);

  // allowHalfOpen: true — the server answers after the client's FIN.
  const p2 = path.join(dir, 'b');
  const s2 = await listen(net.createServer({ allowHalfOpen: true }, calls.must(async (s) => {
    assert.equal(s.allowHalfOpen, true);
    const req = await collect(s);
    assert.equal(s.writable, true);
    setImmediate(() => s.end(`reply to ${req}`));
  })), p2);
  const c2 = net.connect(p2);
  c2.end('question');
  assert.equal((await collect(c2)).toString(), 'reply to question');
  await closeServer(s2);

  // allowHalfOpen on the client: it may keep writing after the server's FIN.
  const p3 = path.join(dir, 'c');
  let serverGot;
  const s3 = await listen(net.createServer({ allowHalfOpen: true }, (s) => {
    serverGot = collect(s);
    s.end('server done');
  }), p3);
  const c3 = net.connect({ path: p3, allowHalfOpen: true });
  assert.equal(c3.allowHalfOpen, true);
  assert.equal((await collect(c3)).toString(), 'server done');
  assert.equal(c3.writable, true);
  c3.end('client still talking');
  await until(() => serverGot !== undefined);
  assert.equal((await serverGot).toString(), 'client still talking');
  await closeServer(s3);
});

test('setEncoding decodes multibyte characters split across reads', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  const text = 'a€b😀c';
  const bytes = Buffer.from(text);
  // Split points inside '€' (3 bytes) and inside '😀' (4 bytes).
  const cuts = [2, 3, 6, 8, bytes.length];
  let serverSide;
  const server = await listen(net.createServer((s) => { serverSide = s; }), p);
  const client = net.connect(p);
  client.setEncoding('utf8');
  await once(client, 'connect');
  await until(() => serverSide !== undefined);

  const chunks = [];
  const expectDecoder = new StringDecoder('utf8');
  let prev = 0;
  for (const cut of cuts) {
    const piece = bytes.subarray(prev, cut);
    const expected = expectDecoder.write(piece);
    serverSide.write(piece);
    prev = cut;
    if (expected.length === 0) {
      // Only a partial character so far: nothing may be emitted. Make sure
      // the bytes really arrived as their own read before continuing.
      await until(() => client.bytesRead === cut);
      continue;
    }
    const [chunk] = await once(client, 'data');
    assert.equal(typeof chunk, 'string');
    assert.equal(chunk, expected);
    chunks.push(chunk);
  }
  assert.equal(chunks.join(''), text);
  assert.ok(!chunks.join('').includes('\ufffd'));
  client.destroy();
  await closeServer(server);
});

test('pause() holds data (and stops reading past highWaterMark); resume() delivers everything', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  const SIZE = 2 * 1024 * 1024;
  const data = crypto.randomBytes(SIZE);
  const server = await listen(net.createServer((s) => s.end(data)), p);
  const client = net.connect(p);

  const chunks = [];
  let paused = false;
  client.on('data', (c) => {
    assert.equal(paused, false, 'no data while paused');
    chunks.push(c);
    if (chunks.length === 1) {
      paused = true;
      client.pause();
    }
  });
  client.on('end', calls.must());
  await until(() => paused);
  assert.equal(client.isPaused(), true);
  // Data keeps arriving into the buffer until highWaterMark, then the
  // handle stops reading.
  await until(() => client.readableLength >= client.readableHighWaterMark && client._handle.reading === false);
  const received = client.bytesRead;
  for (let i = 0; i < 20; i++) await new Promise(setImmediate);
  assert.equal(client.bytesRead, received, 'no reads while stopped');
  assert.ok(received < SIZE);

  paused = false;
  client.resume();
  await once(client, 'end');
  assert.equal(sha256(Buffer.concat(chunks)), sha256(data));
  await closeServer(server);
});

test('setTimeout fires on idleness, keeps the socket open, and 0 disables it', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  const server = await listen(echoServer(), p);
  const client = net.connect(p);
  await once(client, 'connect');

  const onTimeout = calls.must(function () {
    assert.equal(this, client);
  });
  assert.equal(client.setTimeout(30, onTimeout), client);
  assert.equal(client.timeout, 30);
  await once(client, 'timeout');
  assert.equal(client.destroyed, false);

  // Disabling removes the callback as well.
  const never = calls.never('timeout callback');
  client.setTimeout(20, never);
  client.setTimeout(0, never);
  assert.equal(client.listenerCount('timeout'), 0);

  // Still usable after the timeout.
  client.end('after timeout');
  assert.equal((await collect(client)).toString(), 'after timeout');

  assert.throws(() => new net.Socket().setTimeout(-1), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new net.Socket().setTimeout('1'), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new net.Socket().setTimeout(1, 'x'), { code: 'ERR_INVALID_ARG_TYPE' });
  await closeServer(server);
});

test('destroy() before connect: close, no connect; destroySoon ends then destroys', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  const server = await listen(echoServer(), p);

  const c1 = net.connect(p, calls.never('connect'));
  c1.write('x', calls.must((err) => assert.equal(err && err.code, 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION')));
  c1.on('error', calls.never('error'));
  c1.destroy();
  const [hadError] = await once(c1, 'close');
  assert.equal(hadError, false);

  const c2 = net.connect(p);
  await once(c2, 'connect');
  c2.destroySoon();
  await once(c2, 'close');
  assert.equal(c2.writableFinished, true);
  await closeServer(server);
});

test('socket.unref() lets the process exit; ref() keeps it alive', async (t) => {
  t.timeout(120000); // two node starts: seconds each under emulation
  const code = `
    const path = require('path');
    const dir = process.env.PW_DIR; // made (and removed) by the test
    const p = path.join(dir, 's');
    const server = net.createServer((s) => { s.unref(); }).listen(p, () => {
      server.unref();
      const c = net.connect(p).unref();
      c.on('connect', () => console.log('connected'));
    });
  `;
  const r = await runScript(code, { timeout: 30000, env: { PW_DIR: tmpdir(t) } });
  assert.equal(r.timedOut, false, 'process exited by itself');
  assert.equal(r.code, 0, r.stderr);

  // Sanity check of the check: the same with a referenced client is still
  // alive well after it connected (however slow the machine is to get there).
  const { child, ready } = spawnReady(['-e', `const net = require(${JSON.stringify(NET)});\n` +
    code.replace('net.connect(p).unref()', 'net.connect(p)')], {
    readyLine: 'connected', env: { PW_DIR: tmpdir(t) }, timeout: 60000,
  });
  t.teardown(() => child.kill('SIGKILL'));
  await ready;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(child.exitCode, null, 'a referenced client keeps the process alive');
  assert.equal(child.signalCode, null);
});
