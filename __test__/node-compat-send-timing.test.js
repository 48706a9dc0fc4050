'use strict';
// send() writes at send(), as Node does (issue 12, item 1): a message sent
// right before the child dies was already written, so its callback gets
// null and no 'error' is emitted — on Node and on pipewrap alike. Node's own
// fork() is the oracle for every scenario.
const test = require('ava');
const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const fs = require('node:fs');
const pw = require('..');
const { fixture, guard, message, opIs } = require('./fixtures/ipc-helpers');

const NODE_CHILD = fixture('ipc-node-child.js');
const T = { timeout: 60000 };

// Block (synchronously, as user code between send() and the end of the
// tick would) until the kernel has reaped the child's resources: it is a
// zombie, its end of the channel is closed.
function waitUntilDead(pid) {
  const until = Date.now() + 5000;
  while (Date.now() < until) {
    let state;
    try {
      state = fs.readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /s, '')[0];
    } catch {
      return;
    }
    if (state === 'Z' || state === 'X') return;
  }
  throw new Error(`child ${pid} still alive`);
}

// One run: send, SIGKILL, block until dead; resolves with what the callback
// got (or 'no callback') and the 'error' events the child emitted.
async function sendThenKill(forkFn, withCallback) {
  const child = forkFn(NODE_CHILD);
  const exited = guard(child);
  const errors = [];
  child.on('error', (err) => errors.push(err.code || err.message));
  await message(child, opIs('ready'));
  let result = withCallback ? 'pending' : 'no callback';
  const called = withCallback ?
    new Promise((resolve) => child.send({ op: 'late' }, (err) => { result = err ? err.code : null; resolve(); })) :
    (child.send({ op: 'late' }), Promise.resolve());
  child.kill('SIGKILL');
  waitUntilDead(child.pid);
  await called;
  await exited;
  await new Promise((resolve) => setImmediate(resolve));
  return { result, errors };
}

test('send(msg, cb) then SIGKILL: cb(null) and no error, as on Node', async (t) => {
  t.timeout(T.timeout);
  for (let i = 0; i < 5; i++) {
    const node = await sendThenKill(childProcess.fork, true);
    const ours = await sendThenKill(pw.fork, true);
    assert.deepEqual(node, { result: null, errors: [] }, 'Node (oracle)');
    assert.deepEqual(ours, node, `run ${i}`);
  }
  await burst();
});

test('send(msg) without a callback then SIGKILL: no \'error\' event, as on Node', async (t) => {
  t.timeout(T.timeout);
  for (let i = 0; i < 5; i++) {
    const node = await sendThenKill(childProcess.fork, false);
    const ours = await sendThenKill(pw.fork, false);
    assert.deepEqual(node, { result: 'no callback', errors: [] }, 'Node (oracle)');
    assert.deepEqual(ours, node, `run ${i}`);
  }
});

// Messages queued behind a pending write are still coalesced: a burst
// arrives complete and in order, each callback called once with null.
async function burst() {
  const child = pw.fork(NODE_CHILD);
  const exited = guard(child);
  await message(child, opIs('ready'));
  const N = 5000;
  const pad = 'x'.repeat(200); // enough to fill the socket buffer: later sends queue
  const results = [];
  const echoes = [];
  const all = new Promise((resolve) => {
    child.on('message', (m) => {
      if (m && m.echo && typeof m.echo.i === 'number') {
        echoes.push(m.echo.i);
        if (echoes.length === N) resolve();
      }
    });
  });
  for (let i = 0; i < N; i++) child.send({ i, pad }, (err) => results.push(err));
  await all;
  assert.deepEqual(echoes, Array.from({ length: N }, (_, i) => i));
  assert.equal(results.length, N);
  assert.ok(results.every((r) => r === null));
  child.disconnect();
  await exited;
}
