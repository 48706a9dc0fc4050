'use strict';
// Options are read from the caller's own properties only: a polluted
// Object.prototype must not pick the binary fork() runs, the channel's wire
// format, a socket's behaviour or where a server listens (issue 12, item 2).
const test = require('ava');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pw = require('..');
const binding = require('../lib/binding');
const { fixture, guard, message, opIs } = require('./fixtures/ipc-helpers');

const NODE_CHILD = fixture('ipc-node-child.js');
const T = { timeout: 30000 };

// Runs fn() with Object.prototype polluted by `props`, removed right after
// (fn must read its options synchronously, as the API calls under test do).
function polluted(props, fn) {
  for (const [k, v] of Object.entries(props)) {
    Object.defineProperty(Object.prototype, k, { value: v, configurable: true, writable: true, enumerable: true });
  }
  try {
    return fn();
  } finally {
    for (const k of Object.keys(props)) delete Object.prototype[k];
  }
}

function tmpSock(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-proto-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 's.sock');
}

test('fork: execPath, execArgv, stdio, silent, serialization, maxMessageSize are not read through the prototype', async (t) => {
  t.timeout(T.timeout);
  const child = polluted({
    execPath: '/nonexistent/pipewrap-polluted-node',
    execArgv: ['--eval', 'process.exit(7)'],
    stdio: ['ignore', 'ignore', 'ignore'], // no 'ipc': would throw
    silent: true,
    serialization: 'advanced',
    maxMessageSize: 1,
  }, () => pw.fork(NODE_CHILD));
  const exited = guard(child);
  const errors = [];
  child.on('error', (err) => errors.push(err));
  const ready = await message(child, opIs('ready'));
  assert.equal(ready.pid, child.pid);
  assert.equal(child.stdout, null, 'silent was not taken from the prototype');
  child.send({ op: 'info' });
  const info = await message(child, opIs('info'));
  assert.deepEqual(info.argv, []);
  child.disconnect();
  assert.deepEqual(await exited, { code: 0, signal: null, timedOut: false });
  assert.deepEqual(errors, []);
});

test('fork: env is not read through the prototype', async (t) => {
  t.timeout(T.timeout);
  const child = polluted({ env: { ...process.env, PIPEWRAP_TEST_VAR: 'polluted' } }, () => pw.fork(NODE_CHILD));
  const exited = guard(child);
  await message(child, opIs('ready'));
  child.send({ op: 'info' });
  assert.equal((await message(child, opIs('info'))).env, process.env.PIPEWRAP_TEST_VAR ?? null);
  child.disconnect();
  assert.equal((await exited).code, 0);
});

test('openChannel: serialization and maxMessageSize are not read through the prototype', async (t) => {
  t.timeout(T.timeout);
  const [a, b] = binding.native.socketpair();
  const sender = polluted({ serialization: 'advanced', maxMessageSize: 1 }, () => pw.openChannel(a));
  const receiver = pw.openChannel(b);
  const got = new Promise((resolve, reject) => {
    receiver.on('message', resolve);
    receiver.on('error', reject);
  });
  sender.send({ hello: 'json' });
  assert.deepEqual(await got, { hello: 'json' });
  sender.disconnect();
  receiver.disconnect();
});

test('createServer, connect and listen: options are not read through the prototype', async (t) => {
  t.timeout(T.timeout);
  const p = tmpSock(t);
  const server = polluted({ pauseOnConnect: true, allowHalfOpen: true, fdPassing: true },
                         () => pw.createServer({}));
  assert.equal(server.pauseOnConnect, false);
  assert.equal(server.allowHalfOpen, false);
  assert.equal(server.fdPassing, false);

  // listen({ path }): a prototype `fd` would send it down the fd route.
  polluted({ fd: 987654, backlog: 'x', readableAll: true, mode: 0o777 }, () => server.listen({ path: p }));
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  assert.equal(server.address(), p);
  assert.notEqual(fs.statSync(p).mode & 0o777, 0o777, 'mode was not taken from the prototype');

  let serverSide;
  const accepted = new Promise((resolve) => server.once('connection', (s) => { serverSide = s; resolve(); }));
  const client = polluted({ timeout: 1, allowHalfOpen: true, path: '/nonexistent/polluted.sock' },
                         () => pw.connect({ path: p }));
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  await accepted;
  assert.equal(client.timeout, undefined, 'no idle timeout from the prototype');
  assert.equal(client.allowHalfOpen, false);
  assert.equal(serverSide.isPaused(), false);

  // connect({}) has no path of its own.
  assert.throws(() => polluted({ path: p }, () => pw.connect({})), { code: 'ERR_MISSING_ARGS' });

  client.destroy();
  serverSide.destroy();
  await new Promise((resolve) => server.close(resolve));
});

test('send: keepOpen is not read through the prototype', async (t) => {
  t.timeout(T.timeout);
  const p = tmpSock(t);
  const server = pw.createServer();
  await new Promise((resolve) => server.listen(p, resolve));
  const accepted = new Promise((resolve) => server.once('connection', resolve));
  const client = pw.connect(p);
  const socket = await accepted;
  const child = pw.fork(NODE_CHILD);
  const exited = guard(child);
  await message(child, opIs('ready'));
  const sent = new Promise((resolve, reject) => {
    polluted({ keepOpen: true }, () => child.send({ op: 'noop' }, socket, (err) => (err ? reject(err) : resolve())));
  });
  assert.equal(socket._handle, null, 'the socket was handed over, not kept open');
  await sent;
  child.kill(); // the socket it received would keep it alive
  await exited;
  client.destroy();
  socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});
