'use strict';
// fork()/send() validation and the small API surface, against Node's own
// child_process as the oracle (issue 12, item 5).
const test = require('ava');
const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const pw = require('..');
const binding = require('../lib/binding');
const { fixture, guard, message, opIs } = require('./fixtures/ipc-helpers');

const NODE_CHILD = fixture('ipc-node-child.js');
const T = { timeout: 30000 };

// What fn throws, as { name, code, message }; fails if it does not throw (and
// kills a child it may have started).
function thrown(fn) {
  let result;
  try {
    result = fn();
  } catch (err) {
    return { name: err.name, code: err.code, message: err.message };
  }
  if (result && typeof result.kill === 'function') result.kill('SIGKILL');
  assert.fail('did not throw');
}

test('fork() argument errors are Node\'s, thrown at call time, nothing spawned', (t) => {
  t.timeout(T.timeout);
  const cases = [
    [NODE_CHILD, [], []],
    [NODE_CHILD, { stdio: '33' }],
    [NODE_CHILD, [], { stdio: 'bogus' }],
    [NODE_CHILD, 'x'],
    [NODE_CHILD, [], 5],
    [NODE_CHILD, [], { serialization: 'xml' }],
    [NODE_CHILD, [], { stdio: [0, 1, 2] }],
    [42],
  ];
  for (const args of cases) {
    const ours = thrown(() => pw.fork(...args));
    assert.deepEqual(ours, thrown(() => childProcess.fork(...args)), `fork(${args.map((a) => JSON.stringify(a)).join(', ')})`);
  }
});

test('fork(f, { stdio: <non-array object> }) falls back to the default stdio, as Node does', async (t) => {
  t.timeout(T.timeout);
  const child = pw.fork(NODE_CHILD, { stdio: {} });
  const exited = guard(child);
  assert.equal(child.stdout, null);
  await message(child, opIs('ready'));
  child.disconnect();
  assert.equal((await exited).code, 0);
});

test('send() of a symbol, function or bigint: Node\'s "Received ..." text', async (t) => {
  t.timeout(T.timeout);
  const ours = pw.fork(NODE_CHILD);
  const theirs = childProcess.fork(NODE_CHILD);
  const exits = [guard(ours), guard(theirs)];
  await Promise.all([message(ours, opIs('ready')), message(theirs, opIs('ready'))]);
  for (const value of [Symbol(), Symbol('tag'), function named() {}, () => {}, 10n, undefined]) {
    const expected = thrown(() => theirs.send(value));
    assert.deepEqual(thrown(() => ours.send(value)), expected, String(expected.message));
  }
  assert.equal(thrown(() => ours.send(Symbol())).message,
               'The "message" argument must be one of type string, object, number, or boolean. Received type symbol (Symbol())');
  assert.deepEqual(thrown(() => ours.send('x', null, 5)), thrown(() => theirs.send('x', null, 5)));
  assert.deepEqual(thrown(() => ours.send('x', {})), thrown(() => theirs.send('x', {})));
  ours.disconnect();
  theirs.disconnect();
  await Promise.all(exits);
});

// Serial: a deprecation warning is emitted once per thread, and the listener
// on process sees the warnings of every test of this file.
test.serial('child._channel: Node\'s deprecated alias of channel (DEP0129), on fork() and openChannel()', async (t) => {
  t.timeout(T.timeout);
  const warnings = [];
  const onWarning = (w) => { if (w.code === 'DEP0129') warnings.push(w); };
  process.on('warning', onWarning);
  const child = pw.fork(NODE_CHILD);
  const exited = guard(child);
  await message(child, opIs('ready'));

  const desc = Object.getOwnPropertyDescriptor(child, '_channel');
  assert.ok(desc, 'own property, as in Node');
  assert.equal(desc.enumerable, false);
  assert.equal(desc.configurable, true);
  assert.equal(typeof desc.get, 'function');
  assert.equal(typeof desc.set, 'function');
  assert.equal(child._channel, child.channel);
  assert.equal(typeof child._channel.ref, 'function');
  assert.ok(!Object.keys(child).includes('_channel'));

  const [a, b] = binding.native.socketpair();
  const ch = pw.openChannel(a);
  assert.equal(ch._channel, ch.channel);
  ch.disconnect();
  binding.native.closeFd(b); // made by the addon: fs would warn in a worker

  child.disconnect();
  await exited;
  assert.equal(child._channel, null, 'null once disconnected, like channel');
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  assert.ok(warnings.length >= 1, 'DEP0129 emitted');
  assert.match(warnings[0].message, /_channel is deprecated\. Use ChildProcess\.channel instead\./);
});
