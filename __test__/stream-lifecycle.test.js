'use strict';
// The delivery layer's bookkeeping: every JS reference a handle takes is
// released once it has closed (counted by the addon itself), and a second
// load of the JS layer in the same env shares the request classes and the
// Pipe class with the first, so both copies keep working side by side.

const test = require('ava');
const assert = require('node:assert/strict');
const path = require('node:path');

const { tmpdir, callCounter } = require('./net-helpers');

const ROOT = path.join(__dirname, '..');
const b = require('../lib/binding');
const { Pipe, PipeConnectWrap, WriteWrap, ShutdownWrap, constants } = b;

// Every test is serial: they compare the addon's count of live references
// (per thread) with a baseline taken at their start, which a test running
// concurrently would move; and one of them reloads the JS layer.
const settle = () => new Promise((resolve) => setImmediate(resolve));

test.serial('every reference a handle took is released after close', async (t) => {
  const calls = callCounter(t);
  const dir = tmpdir(t);
  await settle();
  const baseline = b.native.liveReferences();

  const server = new Pipe(constants.SERVER);
  assert.equal(server.bind(path.join(dir, 'r.sock')), 0);
  assert.equal(server.listen(8), 0);
  let accepted;
  const connected = new Promise((resolve) => {
    server.onconnection = calls.must((status, client) => {
      assert.equal(status, 0);
      accepted = client;
      accepted.onread = () => {};
      assert.equal(accepted.readStart(), 0);
      resolve();
    });
  });
  const client = new Pipe(constants.SOCKET);
  const req = new PipeConnectWrap();
  const connectDone = new Promise((resolve) => {
    req.oncomplete = calls.must((status) => {
      assert.equal(status, 0);
      resolve();
    });
  });
  assert.equal(client.connect(req, path.join(dir, 'r.sock')), 0);
  await Promise.all([connected, connectDone]);
  client.onread = () => {};
  client.useUserBuffer(Buffer.alloc(64));
  assert.equal(client.readStart(), 0);
  // A write queued behind a full socket and a pending shutdown: both hold
  // their request until close completes them.
  const big = Buffer.alloc(8 << 20, 1);
  const w = new WriteWrap();
  w.oncomplete = calls.must((status) => assert.equal(status, -125));
  assert.equal(client.writeBuffer(w, big), 0);
  const sd = new ShutdownWrap();
  sd.oncomplete = calls.must((status) => assert.equal(status, -125));
  assert.equal(client.shutdown(sd), 0);
  assert.ok(b.native.liveReferences() > baseline, 'open handles hold references');

  await Promise.all(
    [client, accepted, server].map((h) => new Promise((resolve) => h.close(calls.must(resolve)))),
  );
  await settle();
  assert.equal(b.native.liveReferences(), baseline, 'references left after close');
});

test.serial('a handle closed twice, or closed before it held an fd, leaks nothing', async (t) => {
  const calls = callCounter(t);
  await settle();
  const baseline = b.native.liveReferences();
  const p = new Pipe(constants.SOCKET);
  await new Promise((resolve) => {
    p.close(calls.must(resolve));
    p.close(calls.never('second close callback'));
  });
  // Set after the close phase: not kept (nothing would release them).
  p.onread = () => {};
  p.useUserBuffer(Buffer.alloc(8));
  await settle();
  assert.equal(b.native.liveReferences(), baseline);
});

test.serial('a second load of the JS layer shares the classes and both copies keep working', async (t) => {
  const calls = callCounter(t);
  const dir = tmpdir(t);
  const first = require('../lib/index.js');
  // What jest.resetModules() or a deleted require.cache entry does.
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(path.join(ROOT, 'lib')) || key === path.join(ROOT, 'index.js')) delete require.cache[key];
  }
  const second = require('../lib/index.js');
  assert.notEqual(first, second, 'a fresh copy of the JS layer was loaded');
  assert.equal(second.WriteWrap, first.WriteWrap);
  assert.equal(second.PipeConnectWrap, first.PipeConnectWrap);
  assert.equal(second.ShutdownWrap, first.ShutdownWrap);
  assert.equal(second.Pipe, first.Pipe);

  // A server from the first copy, a client from the second, and the other
  // way round: writes, ends and connects work in both.
  for (const [serverLib, clientLib, tag] of [[first, second, 'a'], [second, first, 'b']]) {
    const sock = path.join(dir, `${tag}.sock`);
    const server = serverLib.createServer(calls.must((conn) => conn.pipe(conn)));
    await new Promise((resolve) => server.listen(sock, resolve));
    const client = clientLib.connect(sock);
    const chunks = [];
    client.on('data', (d) => chunks.push(d));
    client.end(`echo ${tag}`);
    await new Promise((resolve) => client.on('end', resolve));
    assert.equal(Buffer.concat(chunks).toString(), `echo ${tag}`);
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
