'use strict';
// One errors module (lib/errors.js): every error pipewrap's net and IPC
// layers throw has Node's shape (class, code, "Name [CODE]: message" stack
// header and toString()), and where Node throws the same thing for the same
// call, the same message (issue 12, item 9).
const test = require('ava');
const assert = require('node:assert/strict');
const net = require('node:net');
const childProcess = require('node:child_process');
const pw = require('..');
const { fixture } = require('./fixtures/ipc-helpers');

const NODE_CHILD = fixture('ipc-node-child.js');

function caught(fn) {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('did not throw');
}

function assertNodeShape(err, label) {
  assert.equal(typeof err.code, 'string', label);
  const header = `${err.name} [${err.code}]: ${err.message}`;
  assert.equal(err.stack.split('\n')[0], header, `${label}: stack header`);
  assert.equal(String(err), header, `${label}: toString()`);
  assert.ok(Object.keys(err).includes('code'), `${label}: code is an own enumerable property`);
  assert.ok(!err.stack.includes('lib/errors.js'), `${label}: the stack starts outside the errors module`);
}

test('net-layer errors: Node\'s shape, and Node\'s message where Node throws the same', () => {
  const cases = [
    ['createServer(5)', () => pw.createServer(5), () => net.createServer(5)],
    ['new Socket(5n)', () => new pw.Socket(5n), null],
    ['setTimeout(-1)', () => new pw.Socket().setTimeout(-1), () => new net.Socket().setTimeout(-1)],
    ['setTimeout("x")', () => new pw.Socket().setTimeout('x'), () => new net.Socket().setTimeout('x')],
    ['setTimeout(1, 5)', () => new pw.Socket().setTimeout(1, 5), () => new net.Socket().setTimeout(1, 5)],
    ['connect()', () => pw.connect(), null],
    ['connect({ path: 42 })', () => pw.connect({ path: 42 }), null],
    ['listen()', () => pw.createServer().listen(), null],
    ['Socket({ fd: -1 })', () => new pw.Socket({ fd: -1 }), null],
    ['getPeerCredentials()', () => new pw.Socket().getPeerCredentials(), null],
    ['sendFds([])', () => new pw.Socket().sendFds([]), null],
  ];
  for (const [label, ours, theirs] of cases) {
    const err = caught(ours);
    assertNodeShape(err, label);
    if (theirs) {
      const ref = caught(theirs);
      assert.deepEqual({ name: err.name, code: err.code, message: err.message },
                       { name: ref.name, code: ref.code, message: ref.message }, label);
    }
  }
  // new Socket({ fd }) validates as Node's createHandle does: the name is
  // "fd", and an fd that is not open is of type UNKNOWN.
  for (const fd of [-1, 1.5, '3', 2 ** 31, 99999]) {
    const ours = caught(() => new pw.Socket({ fd }));
    const ref = caught(() => new net.Socket({ fd }));
    assert.deepEqual({ name: ours.name, code: ours.code, message: ours.message },
                     { name: ref.name, code: ref.code, message: ref.message }, `Socket({ fd: ${fd} })`);
  }
  assert.equal(caught(() => pw.connect()).message, 'The "options" or "path" argument must be specified');
});

test('IPC-layer errors: Node\'s shape and messages', () => {
  const cases = [
    ['fork(1)', () => pw.fork(1), () => childProcess.fork(1)],
    ['fork(f, "x")', () => pw.fork(NODE_CHILD, 'x'), () => childProcess.fork(NODE_CHILD, 'x')],
    ['fork(f, [], 5)', () => pw.fork(NODE_CHILD, [], 5), () => childProcess.fork(NODE_CHILD, [], 5)],
    ['fork serialization', () => pw.fork(NODE_CHILD, { serialization: 'x' }),
     () => childProcess.fork(NODE_CHILD, { serialization: 'x' })],
    ['fork stdio without ipc', () => pw.fork(NODE_CHILD, { stdio: ['pipe'] }),
     () => childProcess.fork(NODE_CHILD, { stdio: ['pipe'] })],
    ['fork two ipc', () => pw.fork(NODE_CHILD, { stdio: ['pipe', 'pipe', 'pipe', 'ipc', 'ipc'] }),
     () => childProcess.fork(NODE_CHILD, { stdio: ['pipe', 'pipe', 'pipe', 'ipc', 'ipc'] })],
    ['openChannel(-1)', () => pw.openChannel(-1), null],
    ['openChannel(0, 5)', () => pw.openChannel(0, 5), null],
    ['openChannel serialization', () => pw.openChannel(0, { serialization: 'x' }), null],
  ];
  for (const [label, ours, theirs] of cases) {
    const err = caught(ours);
    assertNodeShape(err, label);
    if (theirs) {
      const ref = caught(theirs);
      assert.deepEqual({ name: err.name, code: err.code, message: err.message },
                       { name: ref.name, code: ref.code, message: ref.message }, label);
    }
  }
  assert.equal(caught(() => pw.openChannel(0, 5)).message,
               'The "options" argument must be of type object. Received type number (5)');
});

test('errors emitted asynchronously (channel closed, disconnected) have the same shape', async () => {
  const [a, b] = require('../lib/binding').native.socketpair();
  const ch = pw.openChannel(a);
  require('../lib/binding').native.closeFd(b); // made by the addon: fs would warn in a worker
  ch.disconnect();
  const closed = await new Promise((resolve) => ch.send('late', resolve));
  assertNodeShape(closed, 'send after disconnect');
  assert.equal(closed.code, 'ERR_IPC_CHANNEL_CLOSED');
  assert.equal(closed.message, 'Channel closed');
  const again = await new Promise((resolve) => {
    ch.once('error', resolve);
    ch.disconnect();
  });
  assertNodeShape(again, 'disconnect twice');
  assert.equal(again.message, 'IPC channel is already disconnected');
});

test('system errors start where the binding called back, as Node\'s (no error-builder frames)', async () => {
  const c = pw.connect('/nonexistent-pipewrap-dir/x.sock');
  const [err] = await new Promise((resolve) => c.once('error', (...a) => resolve(a)));
  assert.equal(err.message, 'connect ENOENT /nonexistent-pipewrap-dir/x.sock');
  const ref = await new Promise((resolve) => net.connect('/nonexistent-pipewrap-dir/x.sock').once('error', resolve));
  assert.equal(err.message, ref.message);
  const firstFrame = err.stack.split('\n')[1];
  assert.match(firstFrame, /afterConnect/, err.stack);
  assert.equal(ref.stack.split('\n')[1].includes('afterConnect'), true, 'Node\'s starts there too');

  const server = pw.createServer();
  server.listen({ fd: 987654 });
  const [lerr] = await new Promise((resolve) => server.once('error', (...a) => resolve(a)));
  assert.ok(!/errors\.js|listenException/.test(lerr.stack.split('\n')[1]), lerr.stack);
});
