'use strict';
// send() callbacks run in send() order, as Node's do, even when a burst
// outruns the socket: some writes then wait in the native queue while
// later ones (batched, flushed when the peer has read enough) complete at
// once. Node queues every write behind the first that went async, so its
// callbacks come in order; ours must too.
const test = require('ava');
const assert = require('node:assert/strict');
const { fork } = require('../lib/ipc');
const { fixture } = require('./fixtures/ipc-helpers');

const CHILD = fixture('ipc-count-child.js');

for (const [label, count, every7th] of [['10,000 small messages', 10000, 10], ['20,000 messages, some 3 KB', 20000, 3000]]) {
  test(`fork: send() callbacks come in send() order (${label})`, async (t) => {
    t.timeout(60000);
    const child = fork(CHILD, [], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await new Promise((resolve) => child.once('spawn', resolve));
    const order = [];
    await new Promise((resolve) => {
      for (let i = 0; i < count; i++) {
        child.send({ i, p: i % 7 === 0 ? 'z'.repeat(every7th) : 'q' }, (err) => {
          assert.equal(err, null);
          order.push(i);
          if (order.length === count) resolve();
        });
      }
    });
    const outOfOrder = order.findIndex((v, k) => v !== k);
    assert.equal(outOfOrder, -1, `callback ${outOfOrder} was for message ${order[outOfOrder]}`);
    child.disconnect();
    const [code] = await new Promise((resolve) => child.once('close', (...a) => resolve(a)));
    assert.equal(code, 0);
    assert.equal(out.trim(), String(count), 'the child got every message');
  });
}
