'use strict';
// Every example in examples/ runs here, so none can rot: each is a real
// process, checked for its exit code and what it prints.
const test = require('ava');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const run = (rel, args = []) =>
  spawnSync(process.execPath, [path.join(root, 'examples', rel), ...args], { cwd: root, encoding: 'utf8', timeout: 30000 });

const { hasPython } = require('./net-helpers');

test('examples/echo-server', () => {
  const r = run('echo-server/echo.js');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /echoed: hello over a Unix socket/);
});

(!hasPython && 'python3 not installed' ? test.skip : test)('examples/python-peer: Python socket client, path and exact-length abstract name', () => {
  const r = run('python-peer/server.js');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /path: pipewrap got "hello from python"/);
  assert.match(r.stdout, /abstract: pipewrap got "hello from python"/);
});

test('examples/http-over-uds: http.request via createConnection, and curl --unix-socket', () => {
  const r = run('http-over-uds/server.js');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /http\.request: 200 \{"method":"GET","url":"\/v1\/info"/);
  assert.match(r.stdout, /curl: (not installed|\{"method":"GET","url":"\/v1\/containers")/);
});

test('examples/pass-file: an open (then unlinked) file handed to a child with sendFds', () => {
  const r = run('pass-file/pass-file.js');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /child read "only the parent could open this" through fd it received/);
});
