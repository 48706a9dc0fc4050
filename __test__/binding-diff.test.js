'use strict';
// The same binding-level scenarios against Node's own pipe_wrap (the
// reference oracle, process.binding on Node 20+) and against pipewrap: every
// return code, callback argument and ordering must match.
const test = require('ava');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const script = path.join(__dirname, 'fixtures', 'binding-scenarios.js');

function trace(binding) {
  const out = execFileSync(process.execPath, ['--no-deprecation', script], {
    env: { ...process.env, PIPEWRAP_BINDING: binding },
    timeout: 30000,
  });
  return JSON.parse(out.toString());
}

const hasNodeBinding = (() => {
  try {
    return typeof process.binding('pipe_wrap').Pipe === 'function';
  } catch {
    return false;
  }
})();

// Behaviour that differs between Node versions, decided once for pipewrap
// (see README "pipewrap vs Node"): libuv >= 1.48 (Node 22+) autobinds an
// empty name to a kernel-chosen abstract address; pipewrap keeps Node 20's
// EINVAL, so a typo'd empty path never silently listens somewhere.
// pipewrap's trace, run once for the three tests that read it.
let oursOnce = null;
const ourTrace = () => (oursOnce ??= trace('ours'));

function normalizeVersionDifferences(nodeTrace) {
  const [major, minor] = process.versions.uv.split('.').map(Number);
  const autobinds = major > 1 || minor >= 48;
  return nodeTrace.map((e) => (autobinds && e[0] === 'bind empty' ? ['bind empty', -22] : e));
}

(!hasNodeBinding && 'no process.binding in this Node' ? test.skip : test)('pipewrap matches process.binding("pipe_wrap") scenario by scenario', () => {
  const ours = ourTrace();
  const node = normalizeVersionDifferences(trace('node'));
  assert.deepEqual(ours, node);
});

test('the trace checks what it claims (pipewrap alone)', () => {
  const ours = ourTrace();
  const find = (...prefix) => ours.find((e) => prefix.every((p, i) => e[i] === p));
  assert.deepEqual(find('bind missing dir'), ['bind missing dir', -13]);
  assert.deepEqual(find('missing', 'oncomplete'), ['missing', 'oncomplete', -2, 5, true, true, true, false, false, 'sync', false]);
  assert.deepEqual(find('server EOF'), ['server EOF', 'undefined', -4095, 1]);
  assert.deepEqual(find('client writev pairs'), ['client writev pairs', 0, 'bytes', 4, 'async', 0]);
  assert.deepEqual(find('writes after peer closed'), ['writes after peer closed', true, true]);
  assert.deepEqual(find('ipc onread'), ['ipc onread', '{"cmd":"NODE_HANDLE","type":"net.Native"}', 'pendingHandle', 'Pipe']);
  assert.deepEqual(find('all bytes arrived'), ['all bytes arrived', 8 * 1024 * 1024]);
});

test('the stream-core scenarios check what they claim (pipewrap alone)', () => {
  const ours = ourTrace();
  const find = (...prefix) => ours.find((e) => prefix.every((p, i) => e[i] === p));
  const at = (...prefix) => ours.findIndex((e) => prefix.every((p, i) => e[i] === p));
  // A write that went out at once (a handle write reports async) still
  // completes, with 0, when close() follows in the same tick; before the close callback.
  assert.deepEqual(find('handle write oncomplete'), ['handle write oncomplete', 0, true, 'undefined', true, 3]);
  assert.ok(at('handle write oncomplete') < at('handle write close cb'));
  // close() with queued writes: the completed one first (0), then every
  // queued one once, ECANCELED, in order, then the close callback.
  const pending = ours.filter(([label, what]) => /^pending /.test(label) && (what === 'oncomplete' || / (oncomplete|close cb)$/.test(label)));
  assert.deepEqual(pending, [
    ['pending handle write oncomplete', 0],
    ['pending fill', 'oncomplete', -125],
    ['pending q1 string', 'oncomplete', -125, true, true],
    ['pending q2 buffer', 'oncomplete', -125, true, true],
    ['pending q3 writev', 'oncomplete', -125, true, true],
    ['pending q4 empty', 'oncomplete', -125, true, true],
    ['pending close cb', 'queue', 0],
  ]);
  // Zero-length writes behind a queued one wait their turn; an empty chunk
  // list completes synchronously (Node: count 0 after the try-write).
  assert.deepEqual(find('no chunks'), ['no chunks', 0, 'bytes', 0, 'async', 0]);
  assert.deepEqual(find('zero-length queue completions'), ['zero-length queue completions',
    'big', 0, 'empty latin1', 0, 'empty utf8', 0, 'empty ucs2', 0, 'empty buffer', 0,
    'empty writev pairs', 0, 'empty writev buffers', 0, 'tail', 0]);
  // open(fd) of an fd another handle holds: EEXIST only while the loop
  // watches it (listening, reading, writes queued).
  assert.deepEqual(find('open fd in use'), ['open fd in use',
    'bound, not listening', 0, 'bound socket', 0, 'listening', -17, 'open, not reading', 0,
    'reading', -17, 'writes queued', -17, 'listening, next turn', -17, 'reading, next turn', -17,
    'reading stopped', 0]);
  // A connect issued from inside an I/O callback (onconnection, onread)
  // completes only after the server in the same process accepted it.
  for (const [n, label] of [[2, 'B'], [3, 'C']]) {
    assert.notEqual(at('onconnection', n, 0), -1, `onconnection ${n}`);
    assert.notEqual(at(label, 'connect oncomplete', 0), -1, `${label} connect`);
    assert.ok(at('onconnection', n, 0) < at(label, 'connect oncomplete', 0), `${label}: onconnection first`);
  }
});

// The constructor itself, as a program can inspect it: its length and
// whether `Pipe.prototype` can be replaced are Node's.
test('the Pipe constructor looks like Node\'s: length 0, a replaceable prototype', (t) => {
  const ours = require('../lib/binding').Pipe;
  const shape = (P) => {
    const { writable, enumerable, configurable } = Object.getOwnPropertyDescriptor(P, 'prototype');
    return { length: P.length, name: P.name, writable, enumerable, configurable, ctor: P.prototype.constructor === P };
  };
  if (!hasNodeBinding) return t.pass('no process.binding here: pipewrap alone');
  assert.deepEqual(shape(ours), shape(process.binding('pipe_wrap').Pipe));
  t.pass();
});
