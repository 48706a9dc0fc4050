'use strict';
// Where Node's binding aborts the process (CHECK failures), pipewrap throws a
// TypeError/RangeError with a Node-style code, or returns a negative errno.
const test = require('ava');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Pipe, PipeConnectWrap, WriteWrap, ShutdownWrap, constants } = require('../lib/binding');

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pwm-'));

test('constructor type checks', () => {
  assert.throws(() => new Pipe(5), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new Pipe(-1), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new Pipe('0'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Pipe(), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Pipe(1.5), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => Pipe(0), { name: 'TypeError', code: 'ERR_CONSTRUCT_CALL_REQUIRED' });
  assert.throws(() => WriteWrap(), { name: 'TypeError' }); // a JS class: V8's own error
  assert.ok(new Pipe(0) instanceof Pipe);
});

test('onread must be a function', () => {
  const p = new Pipe(constants.SOCKET);
  assert.equal(p.onread, undefined);
  assert.throws(() => { p.onread = 123; }, { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  const f = () => {};
  p.onread = f;
  assert.equal(p.onread, f);
  p.close();
});

test('request objects must be the right class', () => {
  const p = new Pipe(constants.SOCKET);
  assert.throws(() => p.connect({}, '/tmp/x'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.connect(new WriteWrap(), '/tmp/x'), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.connect(new PipeConnectWrap(), 42), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.writeBuffer({}, Buffer.from('x')), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.writeUtf8String(new WriteWrap(), 42), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.writeBuffer(new WriteWrap(), 'str'), { code: 'ERR_INVALID_ARG_TYPE', message: 'Second argument must be a buffer' });
  assert.throws(() => p.writeBuffer(new WriteWrap(), new Int32Array(2)), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.shutdown(new WriteWrap()), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.writev(new WriteWrap(), 'nope'), { code: 'ERR_INVALID_ARG_TYPE' });
  // Not a request at all (the prototype's JS method finds none, and the
  // native side says why), and requests it takes: a subclass's instance,
  // an object made from the request's prototype.
  for (const [label, notReq] of [['null', null], ['undefined', undefined], ['number', 7], ['string', 'req'], ['function', () => {}], ['bare object', Object.create(null)]]) {
    assert.throws(() => p.writeBuffer(notReq, Buffer.from('x')), { code: 'ERR_INVALID_ARG_TYPE' }, label);
    assert.throws(() => p.shutdown(notReq), { code: 'ERR_INVALID_ARG_TYPE' }, label);
  }
  class SubWrite extends WriteWrap {}
  assert.equal(typeof p.writeBuffer(new SubWrite(), Buffer.from('x')), 'number');
  assert.equal(typeof p.writeBuffer(Object.create(WriteWrap.prototype), Buffer.from('x')), 'number');
  assert.equal(typeof p.shutdown(new ShutdownWrap()), 'number');
  assert.throws(() => p.open('3'), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.listen('x'), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.bind(null), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => p.useUserBuffer('x'), { code: 'ERR_INVALID_ARG_TYPE' });
  p.close();
});

test('methods on a foreign receiver throw instead of crashing', () => {
  assert.throws(() => Pipe.prototype.readStart.call({}));
  assert.throws(() => Pipe.prototype.close.call(new WriteWrap()));
  assert.throws(() => Object.getOwnPropertyDescriptor(Pipe.prototype, 'fd').get.call({}));
});

// The prototype's methods find their native state through a number the
// constructor keeps in a private field (cheaper than napi_unwrap): nothing a
// program can see, replace or copy onto another object.
test('a Pipe keeps its state where no program can replace or forge it', () => {
  const p = new Pipe(constants.SOCKET);
  assert.deepEqual(Reflect.ownKeys(p), [], 'no own properties');
  const lookalikes = [
    Object.create(Pipe.prototype),
    Object.assign(Object.create(Pipe.prototype), p),
    new Proxy(p, {}),
    { __proto__: p },
  ];
  for (const fake of lookalikes) {
    assert.throws(() => Pipe.prototype.readStart.call(fake), { name: 'TypeError', code: 'ERR_INVALID_THIS' });
    assert.throws(() => Object.getOwnPropertyDescriptor(Pipe.prototype, 'fd').get.call(fake), { code: 'ERR_INVALID_THIS' });
  }
  class Sub extends Pipe {}
  const sub = new Sub(constants.SOCKET);
  assert.equal(sub.readStop(), 0, 'a subclass instance is a Pipe');
  assert.equal(p.readStop(), 0);
  sub.close();
  p.close();
});

test('Pipe methods do not go through a Function.prototype.call replaced after load', () => {
  const p = new Pipe(constants.SOCKET);
  const call = Function.prototype.call;
  let results;
  Function.prototype.call = function () { throw new Error('replaced call'); };
  try {
    results = [p.fd, p.readStop(), typeof p.writeBuffer(new WriteWrap(), Buffer.from('x')), p.hasRef()];
  } finally {
    Function.prototype.call = call;
  }
  assert.deepEqual(results, [-1, 0, 'number', true]);
  p.close();
});

// node:test's done callback became a promise resolved where done() was called
// (an assertion failing inside the close callback rejects it).
test('after close: nothing binds, listens, connects or writes', () => new Promise((done, fail) => {
  const dir = tmp();
  const p = new Pipe(constants.SERVER);
  p.close(() => {
    try {
      const sock = path.join(dir, 'after-close.sock');
      assert.equal(p.bind(sock), -22);
      assert.equal(p.listen(16), -22);
      assert.equal(fs.existsSync(sock), false);
      assert.equal(p.readStart(), -22);
      assert.equal(p.readStop(), 0);
      const r = new PipeConnectWrap();
      r.oncomplete = () => assert.fail('no connect after close');
      assert.equal(p.connect(r, sock), -22);
      assert.ok(p.writeBuffer(new WriteWrap(), Buffer.from('x')) < 0);
      assert.ok(p.writeUtf8String(new WriteWrap(), 'x') < 0);
      assert.equal(p.shutdown(new ShutdownWrap()), -107);
      assert.equal(p.fd, -22);
      assert.equal(p.open(0), -22);
      p.ref();
      p.unref();
      assert.equal(p.hasRef(), false);
      p.close(() => assert.fail('second close is a no-op'));
      fs.rmSync(dir, { recursive: true, force: true });
      setImmediate(done);
    } catch (err) {
      fail(err);
    }
  });
}));

test('open() on a bad fd and an fd the loop already watches', () => {
  const dir = tmp();
  const a = new Pipe(constants.SERVER);
  assert.equal(a.bind(path.join(dir, 'w.sock')), 0);
  assert.equal(a.listen(4), 0); // watched by the loop from now on
  const b = new Pipe(constants.SOCKET);
  assert.equal(b.open(a.fd), -17); // EEXIST
  assert.equal(new Pipe(constants.SOCKET).open(99999), -9);
  assert.equal(new Pipe(constants.SOCKET).open(-1), -9);
  a.close();
  b.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

// Serial: process.umask(0o077) applies to the whole process (this file runs in
// a child process of its own, see ava.process.config.mjs).
test.serial('fchmod only adds bits and rejects bad modes', () => {
  const dir = tmp();
  const sock = path.join(dir, 'c.sock');
  const oldMask = process.umask(0o077);
  const p = new Pipe(constants.SERVER);
  try {
    assert.equal(p.bind(sock), 0);
  } finally {
    process.umask(oldMask);
  }
  assert.equal(fs.statSync(sock).mode & 0o777, 0o700);
  assert.equal(p.fchmod(4), -22);
  assert.equal(p.fchmod(constants.UV_READABLE), 0);
  assert.equal(fs.statSync(sock).mode & 0o777, 0o744);
  assert.equal(p.fchmod(constants.UV_READABLE | constants.UV_WRITABLE), 0);
  assert.equal(fs.statSync(sock).mode & 0o777, 0o766);
  p.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
