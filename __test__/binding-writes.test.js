'use strict';
// The native write queue: writes queued behind a full socket go out in
// order, coalesced into few writev(2) calls, each request completed once and
// in order; a write carrying fds (sendFds) keeps them on its own first byte.

const test = require('ava');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const b = require('../lib/binding');
const { Pipe, WriteWrap, streamBaseState, constants } = b;
const kLastWriteWasAsync = b.kLastWriteWasAsync;

// Write syscalls this process has made so far (Linux task I/O accounting),
// or null where /proc/self/io is not available.
function writeSyscalls() {
  try {
    const m = /^syscw: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function pair({ fdPassing = false } = {}) {
  const [fa, fb] = b.native.socketpair();
  const a = new Pipe(constants.SOCKET);
  const r = new Pipe(constants.SOCKET);
  assert.equal(a.open(fa), 0);
  assert.equal(r.open(fb), 0);
  if (fdPassing) r.setFdPassing(true);
  return { a, r };
}

// Starts reading on `r` and resolves with the chunks once `length` bytes have
// arrived; onRead(handle, bytesSoFar) sees each read before it is counted.
function readAll(r, length, onRead = () => {}) {
  const received = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    r.onread = function (ab) {
      if (!ab) return reject(new Error(`read error ${streamBaseState[b.kReadBytesOrError]}`));
      const n = streamBaseState[b.kReadBytesOrError];
      onRead(this, got);
      received.push(Buffer.from(ab, streamBaseState[b.kArrayBufferOffset], n));
      got += n;
      if (got === length) resolve(received);
    };
    r.readStart();
  });
}

// Completion callbacks run on the loop turn after the bytes left.
async function nextTurns() {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

// Fills the socket until a write goes async; returns the bytes written.
function fill(a, chunks) {
  const big = Buffer.alloc(64 * 1024, 0x2e);
  for (;;) {
    const req = new WriteWrap();
    req.oncomplete = () => {};
    assert.equal(a.writeBuffer(req, big), 0);
    chunks.push(big);
    if (streamBaseState[kLastWriteWasAsync]) return;
  }
}

// Serial: /proc/self/io counts the write syscalls of the whole process, so no
// other test may write meanwhile (nor another test file: this one runs in a
// child process of its own, see ava.process.config.mjs).
test.serial('queued writes drain in order through few writev calls, each completed once', async () => {
  const { a, r } = pair();
  const expected = [];
  fill(a, expected);
  const count = 300;
  const completions = [];
  for (let i = 0; i < count; i++) {
    const chunk = Buffer.from(`<${i}:${'y'.repeat(i % 37)}>`);
    expected.push(chunk);
    const req = new WriteWrap();
    req.oncomplete = (status) => completions.push([i, status]);
    assert.equal(a.writeBuffer(req, chunk), 0);
    assert.equal(streamBaseState[kLastWriteWasAsync], 1, 'queued behind the full socket');
  }
  const total = Buffer.concat(expected);
  const before = writeSyscalls();
  const received = await readAll(r, total.length);
  await nextTurns();
  const after = writeSyscalls();
  assert.deepEqual(Buffer.concat(received), total);
  assert.deepEqual(completions, Array.from({ length: count }, (_, i) => [i, 0]));
  assert.equal(a.writeQueueSize, 0);
  if (before !== null) {
    // 300 small writes (plus the tail of the last big one) coalesced: one
    // syscall each would be over 300.
    assert.ok(after - before < 60, `expected coalesced writes, saw ${after - before} write syscalls`);
  }
  a.close();
  r.close();
});

test('a write with fds queued among plain writes keeps its fds on its own bytes', async () => {
  const { a, r } = pair({ fdPassing: true });
  const expected = [];
  fill(a, expected);
  const order = [];
  const queue = (text) => {
    const req = new WriteWrap();
    req.oncomplete = (status) => order.push([text, status]);
    expected.push(Buffer.from(text));
    return req;
  };
  for (let i = 0; i < 20; i++) assert.equal(a.writeBuffer(queue(`before${i};`), Buffer.from(`before${i};`)), 0);
  const file = fs.openSync(__filename, 'r');
  assert.equal(a.sendFds(queue('FD!'), Buffer.from('FD!'), [file]), 0);
  for (let i = 0; i < 20; i++) assert.equal(a.writeBuffer(queue(`after${i};`), Buffer.from(`after${i};`)), 0);
  const total = Buffer.concat(expected);
  let fdAt = -1;
  const fds = [];
  const received = await readAll(r, total.length, (handle, got) => {
    if (handle.pendingFds) {
      fds.push(...handle.pendingFds);
      fdAt = got;
      handle.pendingFds = undefined;
    }
  });
  await nextTurns();
  const whole = Buffer.concat(received);
  assert.deepEqual(whole, total);
  assert.equal(fds.length, 1, 'exactly one fd arrived');
  // The fd arrives with the read that holds the first byte of 'FD!'.
  const fdByte = whole.indexOf('FD!');
  const readStart = received.reduce((acc, c) => {
    if (acc.done) return acc;
    if (acc.pos + c.length > fdByte) return { pos: acc.pos, done: true };
    return { pos: acc.pos + c.length, done: false };
  }, { pos: 0, done: false }).pos;
  assert.equal(fdAt, readStart);
  assert.ok(fs.fstatSync(fds[0]).isFile());
  fs.closeSync(fds[0]);
  fs.closeSync(file); // ours stays open until the write completed (the contract)
  assert.deepEqual(order.map(([, s]) => s), Array(41).fill(0));
  assert.deepEqual(order.map(([t]) => t), [
    ...Array.from({ length: 20 }, (_, i) => `before${i};`), 'FD!', ...Array.from({ length: 20 }, (_, i) => `after${i};`),
  ]);
  a.close();
  r.close();
});

test('strings of every size around the conversion scratch buffer arrive intact', async () => {
  const { a, r } = pair();
  // Multibyte characters straddling the 16 KiB scratch boundary, and a
  // string far beyond it.
  const strings = [];
  for (const ch of ['é', '€', '😀', 'a']) {
    for (let bytes = 16 * 1024 - 12; bytes <= 16 * 1024 + 8; bytes++) {
      const unit = Buffer.byteLength(ch);
      strings.push('x'.repeat(bytes % unit) + ch.repeat(Math.floor(bytes / unit)));
    }
  }
  strings.push('ü€😀'.repeat(30000));
  const expected = Buffer.concat(strings.map((str) => Buffer.from(str)));
  const done = readAll(r, expected.length);
  for (const str of strings) {
    const req = new WriteWrap();
    req.oncomplete = () => {};
    assert.equal(a.writeUtf8String(req, str), 0);
  }
  const received = await done;
  assert.deepEqual(Buffer.concat(received), expected);
  a.close();
  r.close();
});

test('long strings are converted as Buffer.from converts them, in every encoding and in writev', async () => {
  const { a, r } = pair();
  // Longer than the scratch buffer (converted once into a buffer of their
  // exact size, not zeroed first): lone surrogates (UTF-8 writes U+FFFD), characters above
  // U+00FF (latin1 keeps the low byte), a cons string (built by +=), and
  // the empty string.
  let cons = '';
  for (let i = 0; i < 3000; i++) cons += `{"i":${i},"s":"é€"}\n`;
  const long = [
    'a\ud800b\udc00'.repeat(9000),
    'ÿĀ€😀'.repeat(8000),
    cons,
    'x'.repeat(70000),
    '',
  ];
  const writes = [];
  for (const str of long) {
    writes.push(['writeUtf8String', str, 'utf8']);
    writes.push(['writeLatin1String', str, 'latin1']);
    writes.push(['writeAsciiString', str, 'latin1']);
    writes.push(['writeUcs2String', str, 'utf16le']);
  }
  const chunks = [long[0], 'utf8', Buffer.from('|'), 'buffer', long[1], 'latin1', long[2], 'utf8'];
  const chunksBytes = Buffer.concat([
    Buffer.from(long[0], 'utf8'), Buffer.from('|'), Buffer.from(long[1], 'latin1'), Buffer.from(long[2], 'utf8'),
  ]);
  const expected = Buffer.concat([...writes.map(([, str, enc]) => Buffer.from(str, enc)), chunksBytes]);
  const done = readAll(r, expected.length);
  // A write that went out at once returns with kLastWriteWasAsync 0 and
  // never calls oncomplete (Node's contract); the others call it once.
  let completed = 0;
  let pending = 0;
  const allCompleted = new Promise((resolve) => {
    const send = (method, ...args) => {
      const req = new WriteWrap();
      req.oncomplete = (status) => {
        assert.equal(status, 0);
        if (++completed === pending) resolve();
      };
      assert.equal(a[method](req, ...args), 0, method);
      if (streamBaseState[kLastWriteWasAsync]) pending++;
    };
    for (const [method, str] of writes) send(method, str);
    send('writev', chunks, false);
    if (pending === 0) resolve();
  });
  const received = Buffer.concat(await done);
  assert.equal(received.length, expected.length);
  assert.ok(received.equals(expected));
  await allCompleted;
  assert.equal(completed, pending);
  a.close();
  r.close();
});
