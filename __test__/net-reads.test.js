'use strict';
// How reads reach JS: small reads as slices of a shared pool, big reads as
// buffers of their own. Chunks handed out earlier must never change.

const test = require('ava');
const assert = require('node:assert/strict');
const path = require('node:path');

const net = require('../lib/net');
const { tmpdir } = require('./net-helpers');

function pair(t, onServerSocket) {
  const sock = path.join(tmpdir(t), 'r.sock');
  return new Promise((resolve) => {
    const server = net.createServer(onServerSocket);
    t.teardown(() => server.close());
    server.listen(sock, () => {
      const client = net.connect(sock, () => resolve(client));
    });
  });
}

test('small reads share a pool; kept chunks stay intact as later reads arrive', async (t) => {
  const count = 600;
  const message = (i) => Buffer.from(`message ${String(i).padStart(4, '0')} ${'x'.repeat(i % 50)}\n`);
  const expected = Buffer.concat(Array.from({ length: count }, (_, i) => message(i)));
  // The server sends one message per reply, so each arrives as its own
  // small read, many of them landing in the same pool.
  const client = await pair(t, (s) => {
    let next = 0;
    s.on('data', () => {
      if (next < count) s.write(message(next++));
      else s.end();
    });
    s.on('error', () => {});
  });
  const kept = [];
  client.on('data', (chunk) => {
    kept.push(chunk);
    client.write('k');
  });
  client.write('go');
  await new Promise((resolve) => client.on('end', resolve));
  client.destroy();

  assert.ok(kept.length >= count / 2, `expected many small reads, got ${kept.length}`);
  assert.deepEqual(Buffer.concat(kept), expected);
  // Pooled: several chunks are views into one larger ArrayBuffer.
  const shared = kept.filter((c) => c.buffer.byteLength > c.length);
  assert.ok(shared.length > kept.length / 2, 'small reads should be slices of a pool');
  assert.ok(new Set(shared.map((c) => c.buffer)).size < shared.length, 'slices should share pools');
});

test('big reads get buffers of their own, exactly their size', async (t) => {
  const total = 4 * 1024 * 1024;
  const payload = Buffer.alloc(total);
  for (let i = 0; i < total; i += 4) payload.writeUInt32LE(i, i);
  const client = await pair(t, (s) => {
    s.end(payload);
    s.on('error', () => {});
  });
  const chunks = [];
  client.on('data', (c) => chunks.push(c));
  await new Promise((resolve) => client.on('end', resolve));
  client.destroy();
  assert.deepEqual(Buffer.concat(chunks), payload);
  const big = chunks.filter((c) => c.length > 2048);
  assert.ok(big.length > 0);
  for (const c of big) {
    assert.equal(c.byteOffset, 0);
    assert.equal(c.buffer.byteLength, c.length, 'a big read owns an exact-size buffer');
  }
});
