'use strict';
// The IPC channel's common-case paths (lib/ipc-channel.js onRead,
// lib/ipc-delivery.js deliverMessage, lib/ipc-serialization.js Batch) keep
// what the general paths do: a read holding exactly one whole json message
// is parsed straight from the read buffer, a 'message' with nothing queued
// before it goes out on a tick of its own, and batched json texts are joined
// by their newlines. An openChannel() end on one side of a socketpair, raw
// bytes on the other.
const test = require('ava');
const assert = require('node:assert');
const net = require('node:net');
const binding = require('../lib/binding');
const { openChannel } = require('../lib/ipc');

function pair(t) {
  const [fa, fb] = binding.native.socketpair();
  const channel = openChannel(fa);
  const peer = new net.Socket({ fd: fb, readable: true, writable: true });
  t.teardown(() => {
    peer.destroy();
    if (channel.connected) channel.disconnect();
  });
  return { channel, peer };
}

// Resolves with the channel's first `n` 'message'/'error' events, in order.
function collect(channel, n) {
  return new Promise((resolve) => {
    const got = [];
    const push = (item) => {
      got.push(item);
      if (got.length === n) resolve(got);
    };
    channel.on('message', (m) => {
      push(['message', m]);
    });
    channel.on('error', (e) => push(['error', e.code]));
  });
}

test('whole-message reads, bad lines, lines split across reads and several per read arrive in order', async (t) => {
  const { channel, peer } = pair(t);
  const got = collect(channel, 9);
  const writes = [
    '{"a":1}\n', // one whole message in a read
    'not json\n', // a bad whole message: 'error', the channel goes on
    '\n', // an empty line is a bad message too
    '"äöü 🎉"\n', // multibyte UTF-8
    '{"b":', // split across reads
    '2}\n',
    '3\n4\n', // two in one read
    '{"cmd":"NODE_x"}\n', // internal: not a 'message'
    '[5]\n',
    '"end"\n',
  ];
  for (const w of writes) {
    await new Promise((resolve) => peer.write(w, resolve));
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.deepStrictEqual(await got, [
    ['message', { a: 1 }],
    ['error', 'ERR_IPC_BAD_MESSAGE'],
    ['error', 'ERR_IPC_BAD_MESSAGE'],
    ['message', 'äöü 🎉'],
    ['message', { b: 2 }],
    ['message', 3],
    ['message', 4],
    ['message', [5]],
    ['message', 'end'],
  ]);
});

test('messages of one read each get a tick, in order: a tick queued by a listener runs after the next message', async (t) => {
  const { channel, peer } = pair(t);
  // As Node's channel (checked against a plain Node child): every message's
  // emit is queued (process.nextTick) when the read is parsed, so ticks the
  // listeners queue come after all of them.
  const order = [];
  const again = new Promise((resolve) => {
    channel.on('message', (m) => {
      order.push(`message ${m}`);
      process.nextTick(() => {
        order.push(`tick after ${m}`);
        if (m === 'z') resolve();
      });
    });
  });
  peer.write('"x"\n"y"\n"z"\n');
  await again;
  assert.deepStrictEqual(order, ['message x', 'message y', 'message z', 'tick after x', 'tick after y', 'tick after z']);
});

test("a 'message' that arrives with no listener is kept for the first one, then the next read's whole message follows it", async (t) => {
  const { channel, peer } = pair(t);
  channel.ref();
  // Parsed once the internal message behind it is (no listener yet for 'message').
  const parsed = new Promise((resolve) => channel.once('internalMessage', resolve));
  peer.write('"early"\n{"cmd":"NODE_x"}\n');
  await parsed;
  const got = collect(channel, 2);
  peer.write('"later"\n');
  assert.deepStrictEqual(await got, [['message', 'early'], ['message', 'later']]);
});

test('batched json messages go out as the same bytes as unbatched ones (toJSON returning undefined included)', async (t) => {
  const { channel, peer } = pair(t);
  // The first write fills the socket and goes asynchronous; what follows is
  // batched behind it.
  const big = 'x'.repeat(4 * 1024 * 1024);
  const msgs = [big];
  for (let i = 0; i < 3000; i++) {
    msgs.push(i % 7 === 0 ? { toJSON() { return undefined; } } : i % 5 === 0 ? `s${i}ü` : { i, s: 'é'.repeat(i % 13) });
  }
  const expected = Buffer.from(msgs.map((m) => JSON.stringify(m) + '\n').join(''));
  const received = [];
  let length = 0;
  const all = new Promise((resolve) => {
    peer.on('data', (d) => {
      received.push(d);
      length += d.length;
      if (length >= expected.length) resolve();
    });
  });
  const callbacks = [];
  for (let i = 0; i < msgs.length; i++) channel.send(msgs[i], (err) => callbacks.push(err));
  await all;
  assert.strictEqual(length, expected.length);
  assert.ok(Buffer.concat(received).equals(expected), 'the bytes differ');
  await new Promise((resolve) => setImmediate(resolve));
  assert.strictEqual(callbacks.length, msgs.length);
  assert.ok(callbacks.every((e) => e === null));
});
