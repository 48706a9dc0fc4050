'use strict';
// Messages that arrive before the parent listens for 'message', under
// Node's fork and ours side by side: kept for the first listener, handed
// out all at once on the tick after it is added (a once() listener gets
// the first, the rest are emitted to whoever listens then), and gone with
// the channel (a listener added at 'disconnect' or 'exit' gets none).
const test = require('ava');
const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const { fork } = require('../lib/ipc');
const { fixture } = require('./fixtures/ipc-helpers');

const CHILD = fixture('ipc-unclaimed-child.js');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function onceThenOn(forkImpl) {
  const trace = [];
  const child = forkImpl(CHILD, ['stay'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  // The child wrote all three before saying so; they are read with it, and
  // wait unclaimed (no listener yet).
  await new Promise((resolve) => child.stdout.once('data', resolve));
  await sleep(100);
  child.once('message', (m) => trace.push(`once ${m}`));
  await sleep(100);
  child.on('message', (m) => trace.push(`on ${m}`));
  await sleep(100);
  child.disconnect();
  // 'exit', not 'close': Node's fork emits no 'close' after the parent's
  // disconnect() (nodejs/node#19433).
  await new Promise((resolve) => child.once('exit', resolve));
  return trace;
}

async function listenerAtExit(forkImpl) {
  const trace = [];
  const child = forkImpl(CHILD, ['disconnect']);
  child.on('disconnect', () => trace.push('disconnect'));
  await new Promise((resolve) => child.once('exit', resolve));
  child.on('message', (m) => trace.push(`late ${m}`));
  await sleep(100);
  return trace;
}

for (const [name, scenario] of [['a once() listener, then on()', onceThenOn], ['a listener added at exit', listenerAtExit]]) {
  test(`unclaimed messages, ${name}: as Node's fork`, async (t) => {
    t.timeout(30000);
    const node = await scenario(childProcess.fork);
    const ours = await scenario(fork);
    assert.deepEqual(ours, node);
  });
}
