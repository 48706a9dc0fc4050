'use strict';
// Pins what lib/stream-state.js assumes about Node's private stream state,
// on the Node running the suite (CI: 20, 22 and 24). Each assumption is
// checked on a plain stream.Duplex in the state it names, both ways, so a
// renamed or repurposed field fails here.

const test = require('ava');
const assert = require('node:assert/strict');
const stream = require('node:stream');

const state = require('../lib/stream-state');

const tick = () => new Promise((resolve) => setImmediate(resolve));

function duplex() {
  return new stream.Duplex({
    read() {},
    write(chunk, enc, cb) {
      this.pendingWrite = cb;
    },
  });
}

test(`canEmitDataDirectly follows flowing, buffered, decoder and EOF (Node ${process.version})`, async () => {
  const d = duplex();
  assert.equal(state.canEmitDataDirectly(d), false, 'not flowing before a data listener');
  d.on('data', () => {});
  await tick();
  assert.equal(state.canEmitDataDirectly(d), true, 'flowing with nothing buffered');
  d.pause();
  assert.equal(state.canEmitDataDirectly(d), false, 'paused');
  d.push('x');
  d.resume();
  assert.equal(state.canEmitDataDirectly(d), false, 'something buffered ahead');
  await tick();
  assert.equal(state.canEmitDataDirectly(d), true, 'drained again');
  d.setEncoding('utf8');
  assert.equal(state.canEmitDataDirectly(d), false, 'a decoder wants the bytes');

  const e = duplex();
  e.on('data', () => {});
  await tick();
  e.push(null);
  assert.equal(state.canEmitDataDirectly(e), false, 'EOF pushed');
});

test('emitDataDirectly reaches data listeners and records dataEmitted (readableDidRead)', async () => {
  const d = duplex();
  const got = [];
  d.on('data', (c) => got.push(String(c)));
  await tick();
  assert.equal(d.readableDidRead, false);
  state.emitDataDirectly(d, Buffer.from('hi'));
  assert.deepEqual(got, ['hi']);
  assert.equal(d.readableDidRead, true, "readableDidRead reads the flag push() would set");
});

test('endEmitted is true only once end has been emitted', async () => {
  const d = duplex();
  d.resume();
  assert.equal(state.endEmitted(d), false);
  d.push(null);
  await new Promise((resolve) => d.on('end', resolve));
  assert.equal(state.endEmitted(d), true);
  assert.equal(d.readableEnded, true);
});

test('writableIdle is false while a write is in flight, buffered, corked, ending or destroyed', async () => {
  const d = duplex();
  assert.equal(state.writableIdle(d), true);
  d.write('a');
  assert.equal(state.writableIdle(d), false, 'in flight');
  d.write('b');
  assert.equal(state.writableIdle(d), false, 'buffered');
  d.pendingWrite();
  await tick();
  d.pendingWrite();
  await tick();
  assert.equal(state.writableIdle(d), true, 'both done');
  d.cork();
  assert.equal(state.writableIdle(d), false, 'corked');
  d.uncork();
  assert.equal(state.writableIdle(d), true);
  d.end();
  assert.equal(state.writableIdle(d), false, 'ending');
  const e = duplex();
  e.on('error', () => {});
  e.destroy(new Error('x'));
  assert.equal(state.writableIdle(e), false, 'destroyed');
});

test('defaultEncoding is what setDefaultEncoding set, normalised', () => {
  const d = duplex();
  assert.equal(state.defaultEncoding(d), 'utf8');
  d.setDefaultEncoding('HEX');
  assert.equal(state.defaultEncoding(d), 'hex');
  d.setDefaultEncoding('utf-8');
  assert.equal(state.defaultEncoding(d), 'utf8');
});

test('markWriteErrored makes errored and writableIdle say so, as a failed write would', async () => {
  const d = duplex();
  const err = new Error('write failed');
  state.markWriteErrored(d, err);
  assert.equal(d.errored, err);
  assert.equal(d._readableState.errored, err);
  assert.equal(state.writableIdle(d), false);
  state.markWriteErrored(d, new Error('second'));
  assert.equal(d.errored, err, 'the first error stays');
  // What Writable itself records for a failed write, for comparison.
  const w = new stream.Duplex({ read() {}, write(chunk, enc, cb) { cb(err); } });
  w.on('error', () => {});
  w.write('x');
  assert.equal(w.errored, err);
  assert.equal(w._readableState.errored, err);
});
