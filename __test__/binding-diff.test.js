'use strict';
// The same binding-level scenarios against Node's own pipe_wrap (the
// reference oracle, process.binding on Node 20+) and against pipewrap: every
// return code, callback argument and ordering must match.
const { test } = require('node:test');
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
function normalizeVersionDifferences(nodeTrace) {
  const [major, minor] = process.versions.uv.split('.').map(Number);
  const autobinds = major > 1 || minor >= 48;
  return nodeTrace.map((e) => (autobinds && e[0] === 'bind empty' ? ['bind empty', -22] : e));
}

test('pipewrap matches process.binding("pipe_wrap") scenario by scenario', { skip: !hasNodeBinding && 'no process.binding in this Node' }, () => {
  const ours = trace('ours');
  const node = normalizeVersionDifferences(trace('node'));
  assert.deepEqual(ours, node);
});

test('the trace checks what it claims (pipewrap alone)', () => {
  const ours = trace('ours');
  const find = (...prefix) => ours.find((e) => prefix.every((p, i) => e[i] === p));
  assert.deepEqual(find('bind missing dir'), ['bind missing dir', -13]);
  assert.deepEqual(find('missing', 'oncomplete'), ['missing', 'oncomplete', -2, 5, true, true, true, false, false, 'sync', false]);
  assert.deepEqual(find('server EOF'), ['server EOF', 'undefined', -4095, 1]);
  assert.deepEqual(find('client writev pairs'), ['client writev pairs', 0, 'bytes', 4, 'async', 0]);
  assert.deepEqual(find('writes after peer closed'), ['writes after peer closed', true, true]);
  assert.deepEqual(find('ipc onread'), ['ipc onread', '{"cmd":"NODE_HANDLE","type":"net.Native"}', 'pendingHandle', 'Pipe']);
  assert.deepEqual(find('all bytes arrived'), ['all bytes arrived', 8 * 1024 * 1024]);
});
