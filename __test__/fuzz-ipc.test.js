'use strict';
// Bounded, deterministic fuzz/property tests of the channel's wire-format
// parsers (lib/ipc-serialization.js: createParser('json' | 'advanced')).
//
//   (a) any sequence of valid messages, serialized and cut at random points
//       into random-sized chunks, parses back to exactly those messages;
//   (b) random garbage and random mutations of valid streams never make the
//       parser throw: every item is { message }, { error } or { fatal } with
//       a code, nothing follows a fatal, and it never hangs (the test has a
//       timeout);
//   (c) memory is bounded: a stream that never completes a message is cut
//       off as soon as it exceeds maxMessageSize, and the parser never holds
//       more than that.
//
// Runs in well under 10 s by default. Knobs:
//   PIPEWRAP_FUZZ_SEED=<int>        base seed (iteration i uses seed + i);
//                                   printed with every failure
//   PIPEWRAP_FUZZ_ITERATIONS=<int>  iterations per property (default 1000)
//
// A long session (hours; each test's timeout scales with the count):
//   PIPEWRAP_FUZZ_ITERATIONS=1000000 npx ava __test__/fuzz-ipc.test.js
// With another seed, to explore new inputs:
//   PIPEWRAP_FUZZ_SEED=$RANDOM PIPEWRAP_FUZZ_ITERATIONS=100000 npx ava __test__/fuzz-ipc.test.js
// Replay one failure: PIPEWRAP_FUZZ_SEED=<seed printed> PIPEWRAP_FUZZ_ITERATIONS=1 ...
const test = require('ava');
const assert = require('node:assert/strict');
const { createParser, encode } = require('../lib/ipc-serialization');
const { prng } = require('./fixtures/hostile-harness');

const SEED = process.env.PIPEWRAP_FUZZ_SEED !== undefined ?
  Number(process.env.PIPEWRAP_FUZZ_SEED) >>> 0 : 0x9e3779b9;
const ITERATIONS = Number(process.env.PIPEWRAP_FUZZ_ITERATIONS || 1000);
assert.ok(Number.isInteger(ITERATIONS) && ITERATIONS > 0, 'PIPEWRAP_FUZZ_ITERATIONS');
// A hang fails the test instead of stalling the run (~2 ms an iteration).
const T = { timeout: Math.max(30000, ITERATIONS * 50) };
const CODES = new Set(['ERR_IPC_BAD_MESSAGE', 'ERR_IPC_MESSAGE_TOO_LARGE']);

// Run `body(rnd, i)` for every iteration with its own seed; a failure names
// the seed that reproduces it.
function forAll(name, body) {
  for (let i = 0; i < ITERATIONS; i++) {
    const seed = (SEED + i) >>> 0;
    try {
      body(prng(seed), i);
    } catch (err) {
      err.message = `${name}: iteration ${i}, reproduce with PIPEWRAP_FUZZ_SEED=${seed} ` +
        `PIPEWRAP_FUZZ_ITERATIONS=1\n${err.message}`;
      throw err;
    }
  }
}

// ------------------------------------------------------------------ generators

const pick = (rnd, list) => list[rnd.int(list.length)];

function randomString(rnd) {
  const pieces = [
    'a', 'Z', ' ', '"', '\\', '\n', '\r', '\t', '\0', '/', '\u2028', '\u2029', '\u007f',
    'ß', 'é', '€', '中', '🎉', '👩‍👩‍👧', '\ud800', '\udfff', '\udbff\udfff', '\ufeff', '\ufffd',
  ];
  let s = '';
  const n = rnd.int(rnd.next() < 0.1 ? 300 : 12);
  for (let i = 0; i < n; i++) {
    s += rnd.next() < 0.3 ? String.fromCharCode(rnd.int(0x10000)) : pick(rnd, pieces);
  }
  return s;
}

function randomNumber(rnd) {
  return pick(rnd, [
    () => rnd.int(1000) - 500,
    () => (rnd.next() - 0.5) * 1e6,
    () => Number.MAX_SAFE_INTEGER,
    () => Number.MIN_VALUE,
    () => 1e308,
    () => -(2 ** 31),
    () => 0,
  ])();
}

// Values JSON represents exactly (no -0, NaN, undefined, sparse arrays).
function jsonValue(rnd, depth = 0) {
  const k = rnd.int(depth > 3 ? 4 : 6);
  switch (k) {
    case 0: return randomString(rnd);
    case 1: return randomNumber(rnd);
    case 2: return pick(rnd, [true, false, null]);
    case 3: return randomString(rnd).slice(0, 3);
    case 4: return Array.from({ length: rnd.int(5) }, () => jsonValue(rnd, depth + 1));
    default: {
      const o = {};
      for (let i = rnd.int(5); i > 0; i--) o[randomString(rnd)] = jsonValue(rnd, depth + 1);
      return o;
    }
  }
}

const TYPED = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
  Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array];

function advancedValue(rnd, depth = 0) {
  const k = rnd.int(depth > 3 ? 8 : 12);
  switch (k) {
    case 0: return randomString(rnd);
    case 1: return pick(rnd, [randomNumber(rnd), -0, NaN, Infinity, undefined, null, true]);
    case 2: return BigInt(rnd.int(1e9)) * BigInt(rnd.int(1e9)) * (rnd.next() < 0.5 ? -1n : 1n);
    case 3: return new Date(rnd.int(2 ** 31) * 1000 + rnd.int(1000));
    case 4: return Buffer.from(rnd.bytes(rnd.int(rnd.next() < 0.02 ? 100000 : 64)));
    case 5: {
      const Ctor = pick(rnd, TYPED);
      const big = Ctor === BigInt64Array || Ctor === BigUint64Array;
      const all = new Ctor(rnd.int(16) + 2);
      for (let i = 0; i < all.length; i++) all[i] = big ? BigInt(rnd.int(1e6)) : rnd.int(200);
      // Sometimes a view into a larger buffer.
      return rnd.next() < 0.5 ? all : all.subarray(1, all.length - rnd.int(2));
    }
    case 6: return /ab+c/gi;
    case 7: return randomString(rnd).slice(0, 4);
    case 8: return Array.from({ length: rnd.int(5) }, () => advancedValue(rnd, depth + 1));
    case 9: return new Map(Array.from({ length: rnd.int(4) },
      () => [advancedValue(rnd, depth + 1), advancedValue(rnd, depth + 1)]));
    case 10: return new Set(Array.from({ length: rnd.int(4) }, () => advancedValue(rnd, depth + 1)));
    default: {
      const o = {};
      for (let i = rnd.int(5); i > 0; i--) o[randomString(rnd)] = advancedValue(rnd, depth + 1);
      return o;
    }
  }
}

// A message the way the channel sends it: the value itself or wrapped in an
// internal command.
function jsonMessage(rnd) {
  const v = jsonValue(rnd);
  return rnd.next() < 0.2 ? { cmd: 'NODE_HANDLE', type: 'net.Native', msg: v } : v;
}

const serialize = (mode, msgs) => Buffer.concat(msgs.map((m) => {
  const e = encode(mode, m);
  return typeof e === 'string' ? Buffer.from(e) : e;
}));

// Cut `bytes` at random points: sometimes 1-byte pieces, sometimes large.
function chunk(rnd, bytes) {
  const out = [];
  let off = 0;
  let style = rnd.int(3);
  if (style === 0 && bytes.length > 8192) style = 1; // keep big inputs quick
  while (off < bytes.length) {
    const n = style === 0 ? 1 + rnd.int(3) : style === 1 ? 1 + rnd.int(64) : 1 + rnd.int(bytes.length);
    out.push(bytes.subarray(off, off + n));
    off += n;
  }
  if (rnd.next() < 0.2) out.splice(rnd.int(out.length + 1), 0, Buffer.alloc(0));
  return out;
}

// Feed chunks; return the items, checking the shape of each as it comes.
function feed(parser, chunks, onStep) {
  const items = [];
  let fatal = false;
  for (const c of chunks) {
    for (const item of parser.push(c)) {
      const keys = Object.keys(item);
      assert.equal(keys.length, 1, `item ${keys}`);
      assert.ok(['message', 'error', 'fatal'].includes(keys[0]), `item ${keys}`);
      assert.ok(!fatal, 'an item after a fatal one');
      if (item.error || item.fatal) {
        const err = item.error || item.fatal;
        assert.ok(err instanceof Error, 'an Error');
        assert.ok(CODES.has(err.code), `code ${err.code}`);
        if (item.fatal) {
          assert.equal(err.code, 'ERR_IPC_MESSAGE_TOO_LARGE');
          fatal = true;
        }
      }
      items.push(item);
    }
    if (onStep) onStep(fatal);
  }
  return items;
}

// White-box: what the parser holds between pushes. json keeps decoded text,
// counted in UTF-16 code units (each raw byte yields at most one); advanced
// keeps raw bytes.
function retained(parser) {
  if (Array.isArray(parser.parts)) return parser.parts.reduce((n, s) => n + s.length, 0);
  assert.equal(typeof parser.size, 'number', 'parser internals changed: update retained()');
  return parser.size;
}

// ------------------------------------------------------------------ (a) round trips

test('(a) json: random messages, random chunking -> the same messages, in order', (t) => {
  t.timeout(T.timeout);
  forAll('json round trip', (rnd) => {
    const msgs = Array.from({ length: 1 + rnd.int(8) }, () => jsonMessage(rnd));
    const expected = msgs.map((m) => JSON.parse(JSON.stringify(m)));
    const parser = createParser('json');
    const items = feed(parser, chunk(rnd, serialize('json', msgs)));
    assert.deepEqual(items, expected.map((message) => ({ message })));
    assert.equal(parser.buffering, false);
  });
});

test('(a) advanced: random structured values, random chunking -> the same values, in order', (t) => {
  t.timeout(T.timeout);
  forAll('advanced round trip', (rnd) => {
    const msgs = Array.from({ length: 1 + rnd.int(6) }, () => advancedValue(rnd));
    const parser = createParser('advanced');
    const items = feed(parser, chunk(rnd, serialize('advanced', msgs)));
    assert.equal(items.length, msgs.length);
    items.forEach((item, i) => assert.deepStrictEqual(item, { message: msgs[i] }));
    assert.equal(parser.buffering, false);
  });
});

test('(a) both modes: a message of exactly maxMessageSize bytes passes, one more byte is fatal', (t) => {
  t.timeout(T.timeout);
  forAll('size boundary', (rnd) => {
    const max = 16 + rnd.int(3000);
    // json: the line without its newline counts.
    const ok = JSON.stringify('j'.repeat(max - 2));
    const over = JSON.stringify('j'.repeat(max - 1));
    let p = createParser('json', max);
    assert.deepEqual(feed(p, chunk(rnd, Buffer.from(`${ok}\n"after"\n`))),
                     [{ message: 'j'.repeat(max - 2) }, { message: 'after' }]);
    p = createParser('json', max);
    const items = feed(p, chunk(rnd, Buffer.from(`"before"\n${over}\n"after"\n`)));
    assert.deepEqual(items.slice(0, 1), [{ message: 'before' }]);
    assert.equal(items.length, 2);
    assert.equal(items[1].fatal.code, 'ERR_IPC_MESSAGE_TOO_LARGE');
    // advanced: the payload after the 4-byte length counts.
    const frame = (n) => {
      const b = Buffer.alloc(4 + n);
      b.writeUInt32BE(n, 0);
      return b;
    };
    const pad = encode('advanced', 'a');
    p = createParser('advanced', max);
    const atMax = frame(max); // zero bytes: not a valid payload, but not too large
    const r = feed(p, chunk(rnd, Buffer.concat([atMax, pad])));
    assert.equal(r.length, 2);
    assert.equal(r[0].error && r[0].error.code, 'ERR_IPC_BAD_MESSAGE');
    assert.deepEqual(r[1], { message: 'a' });
    p = createParser('advanced', max);
    const r2 = feed(p, chunk(rnd, Buffer.concat([pad, frame(max + 1), pad])));
    assert.equal(r2.length, 2);
    assert.deepEqual(r2[0], { message: 'a' });
    assert.equal(r2[1].fatal.code, 'ERR_IPC_MESSAGE_TOO_LARGE');
  });
});

// ------------------------------------------------------------------ (b) garbage

// 1-4 random edits: overwrite, bit flip, insert, delete, truncate, repeat.
function mutate(rnd, bytes) {
  let cur = Buffer.from(bytes);
  const ops = 1 + rnd.int(4);
  for (let k = 0; k < ops; k++) {
    const at = rnd.int(cur.length + 1);
    switch (rnd.int(6)) {
      case 0: if (cur.length) cur[Math.min(at, cur.length - 1)] = rnd.int(256); break;
      case 1: if (cur.length) cur[Math.min(at, cur.length - 1)] ^= 1 << rnd.int(8); break;
      case 2: cur = Buffer.concat([cur.subarray(0, at), rnd.bytes(1 + rnd.int(8)), cur.subarray(at)]); break;
      case 3: cur = Buffer.concat([cur.subarray(0, at), cur.subarray(Math.min(cur.length, at + 1 + rnd.int(8)))]); break;
      case 4: cur = cur.subarray(0, at); break;
      default: cur = Buffer.concat([cur, cur.subarray(at)]); break;
    }
  }
  return cur;
}

for (const mode of ['json', 'advanced']) {
  test(`(b) ${mode}: random garbage never throws out of the parser; every item has a code`, (t) => {
    t.timeout(T.timeout);
    forAll(`${mode} garbage`, (rnd) => {
      const max = rnd.next() < 0.5 ? 1 + rnd.int(256) : 1 << 20;
      const parser = createParser(mode, max);
      const bytes = rnd.bytes(rnd.int(2000));
      feed(parser, chunk(rnd, bytes));
    });
  });

  test(`(b) ${mode}: mutated valid streams never throw; the parser stays usable`, (t) => {
    t.timeout(T.timeout);
    forAll(`${mode} mutation`, (rnd) => {
      const msgs = Array.from({ length: 1 + rnd.int(5) },
                              () => (mode === 'json' ? jsonMessage(rnd) : advancedValue(rnd)));
      const max = rnd.next() < 0.3 ? 64 + rnd.int(4096) : 1 << 20;
      const parser = createParser(mode, max);
      const items = feed(parser, chunk(rnd, mutate(rnd, serialize(mode, msgs))));
      if (mode === 'json' && !items.some((i) => i.fatal)) {
        // json resynchronises at the next newline: a good line after the
        // garbage (and a newline ending any partial line) always arrives.
        const tail = feed(parser, chunk(rnd, Buffer.from('\n"resync"\n')));
        assert.deepEqual(tail.at(-1), { message: 'resync' });
        assert.equal(parser.buffering, false);
      }
    });
  });
}

test('(b) json: garbage lines between valid lines are each reported once, the valid ones all arrive', (t) => {
  t.timeout(T.timeout);
  forAll('json interleaved garbage', (rnd) => {
    const expected = [];
    const parts = [];
    for (let i = rnd.int(10) + 1; i > 0; i--) {
      if (rnd.next() < 0.5) {
        const m = jsonMessage(rnd);
        expected.push({ message: JSON.parse(JSON.stringify(m)) });
        parts.push(Buffer.from(encode('json', m)));
      } else {
        // Starts with a byte no JSON text starts with; no newline inside.
        parts.push(Buffer.concat([Buffer.from([pick(rnd, [0x00, 0x7d, 0x5d, 0x3a, 0xff, 0x80])]),
          rnd.bytes(rnd.int(40), [0x0a]), Buffer.from('\n')]));
        expected.push('error');
      }
    }
    const items = feed(createParser('json'), chunk(rnd, Buffer.concat(parts)));
    assert.deepEqual(items.map((i) => (i.error ? 'error' : i)), expected);
  });
});

// ------------------------------------------------------------------ (c) memory

test('(c) json: a stream with no newline is cut off exactly when it passes maxMessageSize, holding at most that', (t) => {
  t.timeout(T.timeout);
  forAll('json no newline', (rnd) => {
    const max = 1 + rnd.int(rnd.next() < 0.5 ? 100 : 20000);
    const parser = createParser('json', max);
    const chunks = chunk(rnd, rnd.bytes(max + 1 + rnd.int(3 * max), [0x0a]));
    let total = 0;
    let cut = false;
    let i = 0;
    feed(parser, chunks, (fatal) => {
      const before = total;
      total += chunks[i++].length;
      if (!fatal) {
        assert.ok(total <= max, `no fatal at ${total} bytes (max ${max})`);
        assert.ok(retained(parser) <= max, `holds ${retained(parser)} > ${max}`);
      } else if (!cut) {
        cut = true;
        assert.ok(total > max && before <= max, `cut off at ${before}..${total} bytes, max ${max}`);
      }
    });
    assert.ok(cut, 'cut off');
  });
});

test('(c) advanced: a frame never completed holds at most 4 + maxMessageSize; an oversized length is refused at once', (t) => {
  t.timeout(T.timeout);
  forAll('advanced bounded', (rnd) => {
    const max = 1 + rnd.int(rnd.next() < 0.5 ? 100 : 20000);
    const declared = rnd.next() < 0.5 ? 1 + rnd.int(max) : max + 1 + rnd.int(1e9);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(declared, 0);
    // The frame minus its last byte (never complete), or way more for an
    // oversized one.
    const body = rnd.bytes(declared <= max ? Math.max(0, declared - 1) : rnd.int(3 * max));
    const parser = createParser('advanced', max);
    const chunks = chunk(rnd, Buffer.concat([head, body]));
    let total = 0;
    let refused = false;
    let i = 0;
    const items = feed(parser, chunks, (fatal) => {
      const before = total;
      total += chunks[i++].length;
      if (fatal && !refused) {
        refused = true;
        assert.ok(total >= 4 && before < 4, `refused at ${before}..${total} bytes, not with the length field`);
      }
      assert.ok(retained(parser) <= 4 + max, `holds ${retained(parser)} bytes, max ${max}`);
    });
    if (declared > max) {
      assert.ok(refused);
      assert.equal(items.length, 1);
      assert.equal(items[0].fatal.size, declared);
      assert.equal(retained(parser), 0);
    } else {
      assert.deepEqual(items, []);
      assert.equal(parser.buffering, true);
      assert.equal(retained(parser), 4 + body.length);
    }
  });
});

test('(c) json: after a fatal the parser holds nothing', (t) => {
  t.timeout(T.timeout);
  forAll('json dead parser memory', (rnd) => {
    const max = 1 + rnd.int(1000);
    const parser = createParser('json', max);
    const items = feed(parser, [Buffer.concat([Buffer.from('"ok"\n'), Buffer.alloc(max + 1 + rnd.int(1000), 0x61)])]);
    assert.equal(items.at(-1).fatal.code, 'ERR_IPC_MESSAGE_TOO_LARGE');
    assert.equal(retained(parser), 0, 'a dead parser still holds the partial line');
  });
});
