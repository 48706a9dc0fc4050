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

test.serial('handles given the same onread share one reference; each still calls its own', async (t) => {
  const calls = callCounter(t);
  await settle();
  const baseline = b.native.liveReferences();
  const pairs = [0, 1, 2].map(() => b.native.socketpair());
  const pipes = pairs.flat().map((fd) => {
    const p = new Pipe(constants.SOCKET);
    assert.equal(p.open(fd), 0);
    return p;
  });
  const seen = [];
  let allSeen;
  const got = new Promise((resolve) => {
    allSeen = resolve;
  });
  const record = (entry) => {
    seen.push(entry);
    if (seen.length === 6) allSeen();
  };
  const text = (ab) => {
    const n = b.streamBaseState[b.kReadBytesOrError];
    return n > 0 ? Buffer.from(ab, b.streamBaseState[b.kArrayBufferOffset], n).toString() : null;
  };
  function shared(ab) {
    const data = text(ab);
    if (data !== null) record(['shared', pipes.indexOf(this), data]);
  }
  const own = function (ab) {
    const data = text(ab);
    if (data !== null) record(['own', pipes.indexOf(this), data]);
  };
  const refsOf = () => b.native.liveReferences() - baseline;
  const before = refsOf();
  for (const p of pipes) p.onread = shared;
  const sharedCost = refsOf() - before;
  assert.ok(sharedCost <= 1, `six handles with one onread hold ${sharedCost} references for it`);
  pipes[0].onread = shared; // the same again: nothing changes
  assert.equal(refsOf() - before, sharedCost);
  pipes[1].onread = own; // a different one: its own reference
  assert.equal(pipes[1].onread, own);
  assert.equal(pipes[2].onread, shared);
  pipes[3].onread = own; // shared now by 1 and 3
  pipes[4].onread = shared;
  for (const p of pipes) assert.equal(p.readStart(), 0);
  // Each end of a pair writes its index to the other.
  pipes.forEach((p, i) => {
    const w = new WriteWrap();
    assert.equal(p.writeUtf8String(w, `from ${i}`), 0);
  });
  await got;
  seen.sort((x, y) => x[1] - y[1]);
  assert.deepEqual(seen, [
    ['shared', 0, 'from 1'], ['own', 1, 'from 0'], ['shared', 2, 'from 3'],
    ['own', 3, 'from 2'], ['shared', 4, 'from 5'], ['shared', 5, 'from 4'],
  ]);
  await Promise.all(pipes.map((p) => new Promise((resolve) => p.close(calls.must(resolve)))));
  await settle();
  assert.equal(b.native.liveReferences(), baseline, 'references left after close');
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
