'use strict';
// Unit tests for the wire-format parsers: no processes, byte-exact input,
// chunk boundaries placed deliberately.
const test = require('ava');
const assert = require('node:assert');
const v8 = require('v8');
const { createParser, encode } = require('../lib/ipc-serialization');

const collect = (parser, chunks) => {
  const out = [];
  for (const c of chunks) for (const item of parser.push(Buffer.from(c))) out.push(item);
  return out;
};
const messagesOf = (items) => items.map((i) => {
  assert.ok('message' in i, `unexpected ${i.error || i.fatal}`);
  return i.message;
});

// Every split of `bytes` into two or three pieces must give the same result.
function allSplits(bytes, step = 1) {
  const out = [];
  for (let i = 0; i <= bytes.length; i += step) {
    out.push([bytes.subarray(0, i), bytes.subarray(i)]);
    const j = Math.min(bytes.length, i + 3);
    out.push([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
  }
  return out;
}

test('json: encode matches Node (JSON + newline)', () => {
  assert.strictEqual(encode('json', { a: 'ß', b: [1] }), '{"a":"ß","b":[1]}\n');
});

test('json: multibyte characters straddling every read boundary', () => {
  const msgs = ['ß🎉€', { k: 'ä\u2028ö' }, 'x'];
  const bytes = Buffer.from(msgs.map((m) => encode('json', m)).join(''));
  for (const split of allSplits(bytes)) {
    const p = createParser('json');
    assert.deepStrictEqual(messagesOf(collect(p, split)), msgs);
    assert.strictEqual(p.buffering, false);
  }
});

test('json: partial line sets buffering', () => {
  const p = createParser('json');
  assert.deepStrictEqual(collect(p, ['{"a":']), []);
  assert.strictEqual(p.buffering, true);
  assert.deepStrictEqual(messagesOf(collect(p, ['1}\n'])), [{ a: 1 }]);
  assert.strictEqual(p.buffering, false);
});

test('json: malformed line is reported and the next line still parses', () => {
  const p = createParser('json');
  const items = collect(p, ['{"ok":1}\n{not json\n', '"after"\n']);
  assert.strictEqual(items.length, 3);
  assert.deepStrictEqual(items[0], { message: { ok: 1 } });
  assert.strictEqual(items[1].error.code, 'ERR_IPC_BAD_MESSAGE');
  assert.deepStrictEqual(items[2], { message: 'after' });
});

test('json: maxMessageSize counts bytes without a newline', () => {
  const p = createParser('json', 10);
  assert.deepStrictEqual(messagesOf(collect(p, ['"12345678"\n'])), ['12345678']); // 10 bytes: ok
  const items = collect(p, ['"ßßßß', 'ß"']); // 13 bytes pending
  assert.strictEqual(items.length, 1);
  assert.strictEqual(items[0].fatal.code, 'ERR_IPC_MESSAGE_TOO_LARGE');
  assert.deepStrictEqual(collect(p, ['\n"x"\n']), [], 'a dead parser yields nothing');

  const q = createParser('json', 10);
  const items2 = collect(q, ['"a"\n"0123456789abc"\n"b"\n']); // a long line in the middle
  assert.deepStrictEqual(items2[0], { message: 'a' });
  assert.strictEqual(items2[1].fatal.code, 'ERR_IPC_MESSAGE_TOO_LARGE');
  assert.strictEqual(items2.length, 2);
});

test('advanced: frame layout equals Node v20 ({ hi: 1 })', () => {
  assert.strictEqual(encode('advanced', { hi: 1 }).toString('hex'), '0000000bff0f6f220268694902' + '7b01');
});

test('advanced: host objects use the 0/1 tag scheme and round-trip', () => {
  const value = {
    buf: Buffer.from('abc'), u16: new Uint16Array([1, 65535]), dv: new DataView(new ArrayBuffer(2)),
    map: new Map([[1, 2]]), set: new Set([3n]), date: new Date(0), big: -(2n ** 70n),
  };
  const frame = encode('advanced', value);
  const p = createParser('advanced');
  const [got] = messagesOf(collect(p, [frame]));
  assert.strictEqual(Buffer.from(got.buf).toString(), 'abc');
  assert.ok(got.u16 instanceof Uint16Array && got.u16[1] === 65535);
  assert.ok(got.dv instanceof DataView && got.dv.byteLength === 2);
  assert.deepStrictEqual(got.map, value.map);
  assert.deepStrictEqual(got.set, value.set);
  assert.strictEqual(got.date.getTime(), 0);
  assert.strictEqual(got.big, value.big);
  // A frame written with tag 0 must not be readable by a plain deserializer
  // expecting no tag: proves the tag is there.
  const d = new v8.DefaultDeserializer(frame.subarray(4));
  d.readHeader();
  assert.throws(() => d.readValue());
});

test('advanced: length field and payload split at every offset', () => {
  const msgs = [Buffer.alloc(300, 1), 'ß'.repeat(50), { n: 7 }];
  const bytes = Buffer.concat(msgs.map((m) => encode('advanced', m)));
  for (const split of allSplits(bytes, 7)) {
    const p = createParser('advanced');
    const got = messagesOf(collect(p, split));
    assert.strictEqual(got.length, 3);
    assert.ok(Buffer.from(got[0]).equals(msgs[0]));
    assert.strictEqual(got[1], msgs[1]);
    assert.deepStrictEqual(got[2], msgs[2]);
    assert.strictEqual(p.buffering, false);
  }
  // Byte by byte.
  const p = createParser('advanced');
  const got = messagesOf(collect(p, [...bytes].map((b) => [b])));
  assert.strictEqual(got.length, 3);
});

test('advanced: bad payload is skipped, the next frame still parses', () => {
  const junk = Buffer.from([0, 0, 0, 3, 0xde, 0xad, 0xbf]);
  const p = createParser('advanced');
  const items = collect(p, [Buffer.concat([junk, encode('advanced', 'next')])]);
  assert.strictEqual(items[0].error.code, 'ERR_IPC_BAD_MESSAGE');
  assert.deepStrictEqual(items[1], { message: 'next' });
});

test('advanced: declared length above maxMessageSize is fatal before the payload arrives', () => {
  const p = createParser('advanced', 1000);
  const items = collect(p, [[0, 0, 0x10], [0]]); // 4096 declared, split header
  assert.strictEqual(items.length, 1);
  assert.strictEqual(items[0].fatal.code, 'ERR_IPC_MESSAGE_TOO_LARGE');
  assert.strictEqual(items[0].fatal.size, 4096);
});

// Batch: what the channel queues behind a pending write. Its bytes must be
// exactly the concatenation of encode() of each message, whichever path a
// message takes (short texts and Buffer frames encoded at send, long
// strings encoded when taken, plain ones straight into the write chunk),
// at every alignment and however the writes are cut.
const { Batch, recycleChunk, writeChunk } = require('../lib/ipc-serialization');
const flat = (payload) => Buffer.concat(Array.isArray(payload) ? payload : [payload]);
const encoded = (mode, m) => Buffer.from(encode(mode, m));

// Takes everything, `limit` at a time; each write's bytes are copied out
// and its chunk recycled at once (as after a synchronous write), so reused
// memory is exercised. Returns the bytes and the ends reported.
function drain(batch, limit) {
  const out = [];
  const ends = [];
  let taken;
  while ((taken = batch.take(limit)) !== null) {
    out.push(Buffer.from(flat(taken.payload)));
    ends.push(taken.end);
    recycleChunk(taken.chunk);
  }
  return { bytes: Buffer.concat(out), ends };
}

function batchShapes(mode) {
  const out = [];
  for (const len of [511, 512, 1023, 1024, 1025, 1026, 1027, 4096, 70000, 300000]) {
    out.push('a'.repeat(len));
    for (const at of [0, 1, 2, 3, len - 1]) {
      for (const odd of ['"', '\\', '\n', '\x1f', '\x7f', 'é', '\u{1F600}', '\ud800']) {
        out.push('b'.repeat(at) + odd + 'c'.repeat(Math.max(0, len - at - 1)));
      }
    }
  }
  out.push({ id: 1 }, 'short', 42, [1, 'two'], { nested: { s: 'x'.repeat(2000) } }, 'é'.repeat(100000));
  if (mode === 'advanced') {
    const pool = Buffer.allocUnsafe(100).fill(9);
    out.push(Buffer.alloc(1, 1), pool.subarray(3, 50), Buffer.alloc(127, 2), Buffer.alloc(128, 3), Buffer.alloc(70000, 4));
    out.push(new Uint8Array([1, 2, 3]), new Map([[1, 2]]));
  }
  return out;
}

for (const mode of ['json', 'advanced']) {
  test(`batch (${mode}): bytes equal encode() of each message, at every alignment and cut`, () => {
    const shapes = batchShapes(mode);
    for (const limit of [Infinity, 256 * 1024, 1]) {
      for (const lead of [0, 1, 2, 3]) {
        const batch = new Batch();
        const expected = [];
        let counted = 0;
        if (lead) {
          // Shift what follows by `lead` bytes.
          const m = mode === 'json' ? 'x'.repeat(lead) : Buffer.alloc(lead, 5);
          counted += batch.addMessage(mode, m);
          expected.push(encoded(mode, m));
        }
        for (const m of shapes) {
          counted += batch.addMessage(mode, m);
          expected.push(encoded(mode, m));
        }
        const want = Buffer.concat(expected);
        const { bytes, ends } = drain(batch, limit);
        assert.ok(bytes.equals(want), `limit ${limit}, lead ${lead}: ${bytes.length} bytes, want ${want.length}`);
        assert.ok(batch.empty);
        assert.strictEqual(ends[ends.length - 1], batch.counted);
        assert.strictEqual(counted, batch.counted, 'addMessage returns what the batch counts');
        assert.strictEqual(batch.length, 0);
        for (let i = 1; i < ends.length; i++) assert.ok(ends[i] > ends[i - 1], 'every write moves the end on');
        if (limit === 1 && mode === 'json') assert.ok(ends.length > 100, `a limit of 1 takes one item per write (${ends.length} writes)`);
      }
    }
  });
}

test('batch: encoding failures throw and leave the batch unchanged', () => {
  const batch = new Batch();
  batch.addMessage('json', 'y'.repeat(600));
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => batch.addMessage('json', cyclic), TypeError);
  assert.throws(() => batch.addMessage('json', { b: 1n }), TypeError);
  assert.throws(() => batch.addMessage('advanced', { f() {} }));
  batch.addMessage('json', 'z'.repeat(5000));
  const { bytes } = drain(batch, Infinity);
  assert.ok(bytes.equals(Buffer.concat([encoded('json', 'y'.repeat(600)), encoded('json', 'z'.repeat(5000))])));
});

test('batch: a write chunk is reused only after the write that used it is done', () => {
  // Two writes pending at once: the second must not write over the first's
  // bytes; after recycleChunk() the first's memory is reused, and the
  // bytes still come out right.
  const batch = new Batch();
  const msgs = Array.from({ length: 200 }, (_, i) => String.fromCharCode(65 + (i % 26)).repeat(4096));
  for (const m of msgs) batch.addMessage('json', m);
  const first = batch.take(256 * 1024);
  const firstCopy = Buffer.from(flat(first.payload));
  const second = batch.take(256 * 1024);
  assert.ok(flat(first.payload).equals(firstCopy), 'a write still pending was overwritten');
  assert.notStrictEqual(first.chunk.buffer, second.chunk.buffer);
  const secondCopy = Buffer.from(flat(second.payload));
  recycleChunk(first.chunk);
  const third = batch.take(256 * 1024);
  assert.strictEqual(third.chunk.buffer, first.chunk.buffer, 'the done chunk carries the next write');
  assert.ok(flat(second.payload).equals(secondCopy));
  const rest = drain(batch, 256 * 1024).bytes;
  const all = Buffer.concat([firstCopy, secondCopy, Buffer.from(flat(third.payload)), rest]);
  assert.ok(all.equals(Buffer.concat(msgs.map((m) => encoded('json', m)))));
  assert.ok(first.end < second.end && second.end < third.end);
});

test('batch: the chunks messages are encoded into carry new ones only once written() covers them', () => {
  // Short messages are encoded at send into the batch's chunks; a write of
  // them may still be pending (the native queue reads lent bytes later), so
  // a chunk must not take new messages before the write of its last byte
  // is done, and must take them after (warm memory, not fresh pages).
  for (let i = 0; i < 16; i++) writeChunk(1); // empty the shared spare pool
  const batch = new Batch();
  const expected = [];
  let next = 0;
  const add = (n) => {
    for (let k = 0; k < n; k++) {
      const m = { i: next++, pad: 'p'.repeat(200) };
      batch.addMessage('json', m);
      expected.push(encoded('json', m));
    }
  };
  const out = [];
  const inFlight = [];
  const takeAll = () => {
    let taken;
    while ((taken = batch.take(64 * 1024)) !== null) {
      const copy = Buffer.from(flat(taken.payload));
      out.push(copy);
      inFlight.push({ taken, copy });
    }
  };
  const assertIntact = () => {
    for (const { taken, copy } of inFlight) assert.ok(flat(taken.payload).equals(copy), 'bytes of a pending write were overwritten');
  };
  add(3000); // ~650 KB: several chunks
  takeAll();
  // The chunks the batch holds (full ones waiting for their writes, and the
  // current one).
  const chunks = () => [batch.buf, ...batch.retired.filter((c, i) => i % 2 === 0 && c !== null)];
  add(3000); // nothing written yet: all of it must go to other memory
  assertIntact();
  // The first half's writes are done: the chunks holding only its bytes
  // carry the next messages.
  const held = chunks();
  batch.written(inFlight[inFlight.length - 1].taken.end);
  const freed = held.filter((c) => !chunks().includes(c));
  assert.ok(freed.length > 0, 'written() frees the chunks it covers');
  inFlight.length = 0;
  takeAll();
  add(8000); // more than the current chunk holds
  assert.ok(freed.some((c) => chunks().includes(c)), 'a chunk whose write is done is used again');
  assertIntact();
  // Everything written: the current chunk goes back too.
  takeAll();
  batch.written(inFlight[inFlight.length - 1].taken.end);
  assert.strictEqual(batch.buf, null);
  assert.ok(batch.empty);
  add(10);
  takeAll();
  assert.ok(Buffer.concat(out).equals(Buffer.concat(expected)));
});
