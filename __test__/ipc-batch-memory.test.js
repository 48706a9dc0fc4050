'use strict';
// A send() burst far bigger than the socket buffer is batched, and the
// batch's memory is reused as soon as the kernel has the bytes of the
// writes it was in (lib/ipc-serialization.js Batch.written, the channel's
// tryFlush): every message must still reach a plain Node child intact and
// in order, in both serializations, and every send callback run once.
const test = require('ava');
const assert = require('node:assert');
const { fork } = require('../lib/ipc');
const { fixture, guard, message } = require('./fixtures/ipc-helpers');
const { padOf } = require('./fixtures/ipc-check-pad');

const CHECK_CHILD = fixture('ipc-check-child.js');
const N = 40000; // ~12 MB: dozens of batch chunks, each used several times

for (const mode of ['json', 'advanced']) {
  test(`fork (${mode}): a burst reused through the batch's chunks arrives intact and in order`, async (t) => {
    t.timeout(60000);
    const child = fork(CHECK_CHILD, [], { serialization: mode });
    t.teardown(() => child.kill());
    const exited = guard(child, 60000);
    assert.strictEqual(await message(child, (m) => m === 'ready'), 'ready');
    const calls = new Uint8Array(N);
    let allCalledBack;
    const calledBack = new Promise((resolve) => (allCalledBack = resolve));
    let called = 0;
    // One synchronous loop: the batch grows while the child reads.
    for (let i = 0; i < N; i++) {
      child.send({ i, pad: padOf(i) }, () => {
        if (calls[i]++ === 0 && ++called === N) allCalledBack();
      });
    }
    const report = message(child, (m) => m && typeof m.checked === 'number');
    child.send('end');
    // A child that dies (a corrupt stream is fatal to its parser) fails the
    // test at once instead of by timeout.
    const outcome = await Promise.race([report, exited.then((e) => ({ exitedEarly: e }))]);
    assert.deepStrictEqual(outcome, { checked: N, bad: 0 });
    await calledBack;
    child.disconnect();
    const { code, timedOut } = await exited;
    assert.deepStrictEqual({ code, timedOut }, { code: 0, timedOut: false });
    // Checked after the channel is gone: no callback ran twice.
    assert.strictEqual(calls.findIndex((c) => c !== 1), -1, 'every send callback ran exactly once');
  });
}
