'use strict';
// lib/net.js against Node's own `net`, both directions, over the same
// Unix socket paths.

const test = require('ava');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const nodeNet = require('node:net');
const path = require('node:path');

const net = require('../lib/net');
const { tmpdir, once, listen, closeServer, collect, sha256 } = require('./net-helpers');

const T = { timeout: 20000 };
const SIZE = 3 * 1024 * 1024;

test('our Socket is a plain Duplex, not a net.Socket / StreamBase', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  const server = await listen(net.createServer((s) => s.pipe(s)), p);
  const c = net.connect(p);
  await once(c, 'connect');
  assert.ok(c instanceof require('node:stream').Duplex);
  assert.equal(c instanceof nodeNet.Socket, false);
  assert.ok(c._handle, 'keeps the binding handle as _handle');
  assert.ok(!c._handle.isStreamBase, 'does not claim to be a StreamBase');
  c.end();
  await collect(c);
  await closeServer(server);
});

test('our server <-> node:net client (3 MiB each way, half-close)', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  const fromNode = crypto.randomBytes(SIZE);
  const fromUs = crypto.randomBytes(SIZE);
  let serverGot;
  const server = await listen(net.createServer({ allowHalfOpen: true }, (s) => {
    serverGot = collect(s);
    s.end(fromUs);
  }), p);

  const c = nodeNet.connect({ path: p, allowHalfOpen: true });
  const clientGot = collect(c);
  c.end(fromNode);
  const [down, up] = await Promise.all([clientGot, new Promise((resolve) => {
    const poll = () => (serverGot ? resolve(serverGot) : setImmediate(poll));
    poll();
  })]);
  assert.equal(sha256(up), sha256(fromNode));
  assert.equal(sha256(down), sha256(fromUs));
  await closeServer(server);
});

test('node:net server <-> our client (3 MiB each way, half-close)', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  const fromNode = crypto.randomBytes(SIZE);
  const fromUs = crypto.randomBytes(SIZE);
  let serverGot;
  const server = nodeNet.createServer({ allowHalfOpen: true }, (s) => {
    serverGot = collect(s);
    s.end(fromNode);
  });
  await new Promise((resolve) => server.listen(p, resolve));

  const c = net.connect({ path: p, allowHalfOpen: true });
  const clientGot = collect(c);
  c.end(fromUs);
  const down = await clientGot;
  await new Promise((resolve) => { const poll = () => (serverGot ? resolve() : setImmediate(poll)); poll(); });
  const up = await serverGot;
  assert.equal(sha256(down), sha256(fromNode));
  assert.equal(sha256(up), sha256(fromUs));
  await new Promise((resolve) => server.close(resolve));
});

test('node:net server sees our FIN; our socket sees its FIN (allowHalfOpen false)', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  const server = nodeNet.createServer((s) => s.pipe(s));
  await new Promise((resolve) => server.listen(p, resolve));
  const c = net.connect(p);
  c.end('bye');
  assert.equal((await collect(c)).toString(), 'bye');
  const [hadError] = await once(c, 'close');
  assert.equal(hadError, false);
  await new Promise((resolve) => server.close(resolve));
});
