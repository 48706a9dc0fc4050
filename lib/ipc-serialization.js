'use strict';
// Wire formats of Node's fork channel (see node-pipe-contract.md §3.4).
//
//   json      one JSON text per message, terminated by '\n', UTF-8.
//   advanced  4-byte big-endian payload length, then a v8.Serializer payload
//             (header included). Host objects are preceded by a uint32 tag:
//             0 = ArrayBufferView (V8/Node default host format follows),
//             1 = any other host object, written as a plain-object copy.
//
// Each parser consumes raw chunks (feed) and reports, in order, each
// complete message (MESSAGE), each bad message that was skipped (BAD: the
// stream stays in sync), or that the stream cannot continue (FATAL: a
// message larger than maxMessageSize). push() yields the same as objects:
// { message } | { error } | { fatal }. Parsers never throw.

const { Buffer } = require('buffer');
const { StringDecoder } = require('string_decoder');
const v8 = require('v8');
const { isArrayBufferView, isUint8Array } = require('util').types;
const { codes } = require('./errors');

// Item kinds passed to a parser's sink (see JSONParser#feed).
const MESSAGE = 0;
const BAD = 1;
const FATAL = 2;

const kArrayBufferViewTag = 0;
const kPlainObjectTag = 1;
const DEFAULT_MAX_MESSAGE_SIZE = 128 * 1024 * 1024;
const NEWLINE = 0x0a;

function badMessage(cause, mode) {
  const err = codes.ERR_IPC_BAD_MESSAGE(mode, cause);
  if (cause) err.cause = cause;
  return err;
}

function tooLarge(size, max, mode) {
  const err = codes.ERR_IPC_MESSAGE_TOO_LARGE(size, max, mode);
  err.size = size;
  err.maxMessageSize = max;
  return err;
}

class ChannelSerializer extends v8.DefaultSerializer {
  _writeHostObject(object) {
    if (isArrayBufferView(object)) {
      this.writeUint32(kArrayBufferViewTag);
      return super._writeHostObject(object);
    }
    this.writeUint32(kPlainObjectTag);
    this.writeValue({ ...object });
  }
}

class ChannelDeserializer extends v8.DefaultDeserializer {
  _readHostObject() {
    const tag = this.readUint32();
    if (tag === kArrayBufferViewTag) return super._readHostObject();
    if (tag === kPlainObjectTag) return this.readValue();
    throw new Error(`unknown host object tag ${tag}`);
  }
}

// ---------------------------------------------------------------- json

class JSONParser {
  constructor(maxMessageSize) {
    this.max = maxMessageSize;
    this.decoder = new StringDecoder('utf8');
    this.parts = [];          // decoded text of the unfinished line
    this.pendingBytes = 0;    // raw bytes received since the last newline
    this.dead = false;
  }

  get buffering() {
    return this.pendingBytes !== 0;
  }

  // Calls sink(kind, value) for each item, in order: kind MESSAGE with the
  // message, BAD with the error of a skipped message, FATAL with the error
  // that stops the stream. sink returns false to stop early (the rest of the
  // chunk is then dropped, as when the channel is being torn down).
  feed(chunk, sink) {
    if (this.dead || chunk.length === 0) return;
    const lastNl = chunk.lastIndexOf(NEWLINE);
    if (lastNl === chunk.length - 1 && this.pendingBytes === 0 &&
        chunk.indexOf(NEWLINE) === lastNl) {
      // The common case: exactly one whole message. JSON.parse ignores the
      // trailing newline; nothing is pending, so the decoder holds nothing.
      if (chunk.length - 1 > this.max) {
        this.dead = true;
        sink(FATAL, tooLarge(chunk.length - 1, this.max, 'json'));
        return;
      }
      const text = this.decoder.write(chunk);
      let message;
      try {
        message = JSON.parse(text);
      } catch (err) {
        sink(BAD, badMessage(err, 'json'));
        return;
      }
      sink(MESSAGE, message);
      return;
    }
    const text = this.decoder.write(chunk);
    if (lastNl === -1) {
      this.pendingBytes += chunk.length;
      if (this.pendingBytes > this.max) {
        this.dead = true;
        this.parts = [];
        sink(FATAL, tooLarge(this.pendingBytes, this.max, 'json'));
        return;
      }
      this.parts.push(text);
      return;
    }
    // Byte length of each complete line (the first may continue earlier
    // chunks), needed only if one could be over the limit: such a line stops
    // the stream, lines before it are still delivered.
    let lineBytes = null;
    if (this.pendingBytes + chunk.length > this.max) {
      lineBytes = [];
      let from = 0;
      for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, from)) {
        lineBytes.push(nl - from + (from === 0 ? this.pendingBytes : 0));
        from = nl + 1;
      }
    }
    const lines = text.split('\n');
    const rest = lines.pop();
    if (this.parts.length) {
      this.parts.push(lines[0]);
      lines[0] = this.parts.join('');
      this.parts = [];
    }
    this.pendingBytes = chunk.length - lastNl - 1;
    if (rest.length) this.parts.push(rest);
    for (let i = 0; i < lines.length; i++) {
      if (lineBytes !== null && lineBytes[i] > this.max) {
        this.dead = true;
        this.parts = [];
        sink(FATAL, tooLarge(lineBytes[i], this.max, 'json'));
        return;
      }
      let message;
      try {
        message = JSON.parse(lines[i]);
      } catch (err) {
        if (sink(BAD, badMessage(err, 'json')) === false) return;
        continue;
      }
      if (sink(MESSAGE, message) === false) return;
    }
    if (this.pendingBytes > this.max) {
      this.dead = true;
      this.parts = []; // hold nothing once fatal, like the other fatal paths
      sink(FATAL, tooLarge(this.pendingBytes, this.max, 'json'));
    }
  }
}

// feed()'s common case without a chunk: buf[start, end) (a view of the
// read buffer) is exactly one whole message, its one newline at the end,
// and nothing is pending. Parsed from the bytes before the newline, as a
// line of feed()'s general case. Returns false, having done nothing, when
// it is not that case (the caller then feeds the chunk).
JSONParser.prototype.feedWhole = function feedWhole(buf, start, end, sink) {
  const last = end - 1;
  if (this.pendingBytes !== 0 || this.dead || last < start || last - start > this.max ||
      buf[last] !== NEWLINE || buf.indexOf(NEWLINE, start) !== last) {
    return false;
  }
  let message;
  try {
    message = JSON.parse(buf.utf8Slice(start, last));
  } catch (err) {
    sink(BAD, badMessage(err, 'json'));
    return true;
  }
  sink(MESSAGE, message);
  return true;
};

// The items of one chunk as objects: { message } | { error } | { fatal }.
function* itemsOf(parser, chunk) {
  const items = [];
  parser.feed(chunk, (kind, value) => {
    items.push(kind === MESSAGE ? { message: value } : kind === BAD ? { error: value } : { fatal: value });
  });
  yield* items;
}

// JSON.stringify of a long string costs a few ns per character (V8 checks
// each one for escaping). A string message of plain ASCII with nothing to
// escape (no '"', '\\', control characters) stringifies to itself in
// quotes; a word-at-a-time scan finds that out several times faster. Any
// doubt (non-ASCII, a byte flagged) falls back to JSON.stringify, so the
// text is always exactly JSON.stringify's.
const PLAIN_STRING_MIN = 512;
// Where encodeJSONPayload quotes strings that fit; longer ones get memory of
// their own, so one huge message does not leave a huge scratch behind.
const SCRATCH_SIZE = 64 * 1024;
let scratch = null;
let scratchWords = null;

// Writes `str` as its JSON text plus '\n' at buf[off...] if it is plain
// ASCII with nothing to escape (then that text is the string in quotes);
// returns the end offset, or -1 (bytes past `off` are then garbage). buf
// needs room for str.length + 7 bytes from off: 4 bytes past the string
// make a string that is not all ASCII write more than str.length bytes, so
// the count tells. `words` views buf's memory as words.
function writePlainString(buf, words, off, str) {
  const len = str.length;
  if (buf.utf8Write(str, off + 1) !== len || !plainBytes(buf, words, off + 1, len)) return -1;
  buf[off] = 0x22;
  buf[off + len + 1] = 0x22;
  buf[off + len + 2] = NEWLINE;
  return off + len + 3;
}

const wordsOf = (buf) => new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);

// Whether buf[start, start + len) (ASCII bytes) holds nothing JSON escapes:
// no '"', '\\' or control character. `words` views buf's memory as words
// (buf.byteOffset is a multiple of 4); the unaligned ends go byte by byte.
function plainBytes(buf, words, start, len) {
  const end = start + len;
  let i = start;
  for (; i < end && (i & 3) !== 0; i++) if (escapes(buf[i])) return false;
  let flagged = 0;
  const wordsEnd = end >>> 2;
  for (let w = i >>> 2; w < wordsEnd; w++) {
    const v = words[w];
    const q = v ^ 0x22222222; // '"' bytes become zero
    const b = v ^ 0x5c5c5c5c; // '\\' bytes become zero
    flagged |= ((v - 0x20202020) & ~v) | ((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b);
  }
  if ((flagged & 0x80808080) !== 0) return false;
  for (i = Math.max(i, wordsEnd << 2); i < end; i++) if (escapes(buf[i])) return false;
  return true;
}

function escapes(byte) {
  return byte < 0x20 || byte === 0x22 || byte === 0x5c;
}

function encodeJSON(message) {
  return JSON.stringify(message) + '\n';
}

// encodeJSON's bytes, as a string or (a long plain string) a Buffer: what
// the channel writes (a concatenated string would be a rope, slow for V8 to
// encode again). ASCII, so the Buffer's length is the string's + 3, as the
// callers count it.
function encodeJSONPayload(message) {
  if (typeof message === 'string' && message.length >= PLAIN_STRING_MIN) {
    const room = message.length + 7;
    if (room > SCRATCH_SIZE) {
      const own = Buffer.allocUnsafeSlow(room);
      const end = writePlainString(own, wordsOf(own), 0, message);
      if (end >= 0) return own.subarray(0, end);
    } else {
      if (scratch === null) {
        scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
        scratchWords = wordsOf(scratch);
      }
      const end = writePlainString(scratch, scratchWords, 0, message);
      if (end >= 0) return Buffer.from(scratch.subarray(0, end));
    }
  }
  return JSON.stringify(message) + '\n';
}

// ---------------------------------------------------------------- advanced

class AdvancedParser {
  constructor(maxMessageSize) {
    this.max = maxMessageSize;
    this.chunks = [];
    this.size = 0;
    this.dead = false;
  }

  get buffering() {
    return this.size !== 0;
  }

  frameLength() {
    const first = this.chunks[0];
    if (first.length >= 4) return first.readUInt32BE(0);
    // The length field straddles chunks.
    const head = Buffer.alloc(4);
    let filled = 0;
    for (const c of this.chunks) {
      const n = Math.min(4 - filled, c.length);
      c.copy(head, filled, 0, n);
      filled += n;
      if (filled === 4) break;
    }
    return head.readUInt32BE(0);
  }

  take(n) {
    // Remove and return exactly n bytes from the front.
    const first = this.chunks[0];
    let out;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0];
        const k = Math.min(n - filled, c.length);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.size -= n;
    return out;
  }

  feed(chunk, sink) {
    if (this.dead || chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size >= 4) {
      const len = this.frameLength();
      if (len > this.max) {
        this.dead = true;
        this.chunks = [];
        this.size = 0;
        sink(FATAL, tooLarge(len, this.max, 'advanced'));
        return;
      }
      if (this.size < 4 + len) break;
      const frame = this.take(4 + len);
      let message;
      try {
        const des = new ChannelDeserializer(frame.subarray(4));
        des.readHeader();
        message = des.readValue();
      } catch (err) {
        if (sink(BAD, badMessage(err, 'advanced')) === false) return;
        continue;
      }
      if (sink(MESSAGE, message) === false) return;
    }
  }
}

const ZERO_LENGTH = Buffer.alloc(4); // copied by writeRawBytes, never written

function serializeFrame(message) {
  const ser = new ChannelSerializer();
  ser.writeRawBytes(ZERO_LENGTH); // room for the length
  ser.writeHeader();
  ser.writeValue(message);
  const frame = ser.releaseBuffer();
  frame.writeUInt32BE(frame.length - 4, 0);
  return frame;
}

// A message that is itself a Buffer (the common way to send bytes) has a
// fixed encoding: length, V8 header, kHostObject ('\\'), then what
// ChannelSerializer#_writeHostObject writes (varint tag 0, varint type
// index of Buffer, varint byte length, the bytes). Built directly, it costs
// no v8.Serializer (a native object per message, and an external buffer for
// the GC to track). Checked against the serializer at load; any difference
// (another V8 or Node) turns it off. Only plain Buffers (prototype
// Buffer.prototype, no own 'constructor': nothing user-defined runs when
// the serializer looks at it), non-empty (a detached view has length 0).
let v8Header = null;     // the bytes writeHeader() writes
const kBufferTypeIndex = 10; // FastBuffer in Node's DefaultSerializer
const kHostObject = 0x5c;

function varintLength(n) {
  let k = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    k++;
  }
  return k;
}

function writeVarint(buf, off, n) {
  while (n >= 0x80) {
    buf[off++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[off++] = n;
  return off;
}

function isPlainBuffer(message) {
  // isUint8Array first: false for a Proxy, so no trap runs here.
  return isUint8Array(message) && Object.getPrototypeOf(message) === Buffer.prototype &&
    message.length !== 0 &&
    !Object.hasOwn(message, 'constructor');
}

function bufferFrameLength(message) {
  const n = message.length;
  return 4 + v8Header.length + 2 + varintLength(kBufferTypeIndex) + varintLength(n) + n;
}

// Writes the frame v8.Serializer would make for a plain Buffer, `frameLength`
// (bufferFrameLength's) bytes at buf[off...]; returns the end offset.
function writeBufferFrame(buf, off, message, frameLength) {
  buf.writeUInt32BE(frameLength - 4, off);
  off += 4;
  off += v8Header.copy(buf, off);
  buf[off++] = kHostObject;
  buf[off++] = kArrayBufferViewTag;
  off = writeVarint(buf, off, kBufferTypeIndex);
  off = writeVarint(buf, off, message.length);
  return off + message.copy(buf, off);
}

function bufferFrame(message) {
  const n = bufferFrameLength(message);
  const frame = Buffer.allocUnsafe(n);
  writeBufferFrame(frame, 0, message, n);
  return frame;
}

// A message whose advanced frame bufferFrame can write (the same bytes as
// v8.Serializer's).
function fastFramed(message) {
  return fastBuffers && isPlainBuffer(message) && Buffer.prototype.constructor === Buffer;
}

let fastBuffers = false;
try {
  const ser = new v8.Serializer();
  ser.writeHeader();
  v8Header = ser.releaseBuffer();
  fastBuffers = Buffer.prototype.constructor === Buffer;
  const pool = Buffer.allocUnsafe(64); // a pooled slice: byteOffset != 0
  pool.fill(0x33);
  for (const b of [Buffer.from([1]), pool.subarray(3, 40), Buffer.alloc(127, 1), Buffer.alloc(128, 2), Buffer.alloc(20000, 3), Buffer.alloc(70000, 4)]) {
    if (!fastBuffers) break;
    fastBuffers = bufferFrame(b).equals(serializeFrame(b));
  }
} catch {
  fastBuffers = false;
}

function encodeAdvanced(message) {
  if (fastFramed(message)) return bufferFrame(message);
  return serializeFrame(message);
}

// ---------------------------------------------------------------- batches

// Messages waiting behind a pending write. Two kinds of entry, in order:
//  - bytes encoded at send(): short texts (gathered and encoded UTF-8 a
//    group at a time) and Buffer frames (a copy must be taken at send), in
//    chunks off the JS heap, so thousands of small strings are not kept
//    alive through GCs;
//  - long strings, kept as they are (strings are immutable) and encoded
//    only when their turn to be written comes, into a chunk reused from
//    one write to the next: a burst of large messages then costs one copy
//    each into memory that is already mapped, not a second store of the
//    whole burst in fresh pages.
// take(limit) returns the next bytes to write (one Buffer or a list for
// writev), the chunk they were encoded into (for recycleChunk() once that
// write is done) and how far the taken messages reach (`end`, for their
// callbacks). Lengths are counted as encodePayload's payload.length.
// written(end) tells the batch that the writes of everything up to `end`
// are done: the chunks holding only those bytes then carry new messages,
// so a long burst encodes into a few chunks that stay mapped and warm
// instead of faulting in fresh pages for every byte (ipc-oneway-nested:
// page faults under the encoding's copy were 2.9–3.4% of the sender's
// samples, 0.1–1.5% with the reuse).
const BATCH_GROUP_CHARS = 16 * 1024;
const BATCH_SHORT_TEXT = 1024;
const WRITE_CHUNK = 256 * 1024;
// A batch that keeps growing (the peer reads slower than this process
// encodes, so nothing comes back to reuse) takes chunks twice as big each
// time, up to this: fewer, larger allocations for a long backlog.
const BATCH_MAX_CHUNK = 1024 * 1024;

// Chunks kept for reuse (the batch's and the long strings' write chunks),
// shared by every channel of this thread: at most SPARE_BYTES of them.
const SPARE_BYTES = 1024 * 1024;
const spareChunks = [];
let spareBytes = 0;

class Batch {
  constructor() {
    this.items = [];     // Buffer (encoded bytes) | string (a long JSON text or string message)
    this.quoted = [];    // per item: a string message to write as JSON (quoted)
    this.ends = [];      // per item: the counted length up to its end
    this.next = 0;       // the first item not taken yet
    this.counted = 0;    // counted length of everything added
    this.taken = 0;      // counted length of everything taken
    // The chunk encoded entries are written to, and its open region.
    this.buf = null;
    this.off = 0;
    this.start = 0;
    this.bufEnd = 0;     // counted length up to the last byte in buf
    // Full chunks whose bytes may still be in a write: [chunk, counted
    // length up to its last byte] pairs, oldest first, from `retiredNext`.
    this.retired = [];
    this.retiredNext = 0;
    this.texts = [];     // short json texts not encoded yet, without their newlines
    this.chars = 0;
  }

  get length() {
    return this.counted - this.taken;
  }

  get empty() {
    return this.next === this.items.length && this.texts.length === 0 && this.off === this.start;
  }

  // Adds `message` encoded in `mode`; returns its counted length. Throws,
  // with the batch unchanged, what encoding throws.
  addMessage(mode, message) {
    if (mode === 'json') {
      if (typeof message === 'string' && message.length >= BATCH_SHORT_TEXT) {
        // Encoded when written (JSON.stringify of a string cannot throw).
        return this.addLong(message, true, message.length + 3);
      }
    } else if (fastFramed(message)) {
      const n = bufferFrameLength(message);
      this.encodeTexts();
      this.room(n);
      this.off = writeBufferFrame(this.buf, this.off, message, n);
      this.counted += n;
      this.bufEnd = this.counted;
      return n;
    }
    if (mode === 'json') {
      // The text of encodeJSON, without its newline: short ones are
      // grouped, each newline written by encodeTexts (no string
      // concatenated per message); long ones wait.
      let text = JSON.stringify(message);
      if (text === undefined) text = 'undefined'; // encodeJSON's String(undefined) + '\n'
      const n = text.length + 1;
      if (n < BATCH_SHORT_TEXT) {
        this.texts.push(text);
        this.chars += n;
        this.counted += n;
        if (this.chars >= BATCH_GROUP_CHARS) this.encodeTexts();
      } else {
        this.addLong(text + '\n', false, n);
      }
      return n;
    }
    // advanced: a frame (a Buffer), copied in.
    const payload = encodeAdvanced(message);
    this.encodeTexts();
    this.room(payload.length);
    this.off += payload.copy(this.buf, this.off);
    this.counted += payload.length;
    this.bufEnd = this.counted;
    return payload.length;
  }

  addLong(str, quoted, n) {
    this.closeRegion();
    this.counted += n;
    this.items.push(str);
    this.quoted.push(quoted);
    this.ends.push(this.counted);
    return n;
  }

  encodeTexts() {
    const n = this.texts.length;
    if (n === 0) return;
    // json lines without their newlines: joined by them, plus the last.
    const text = n === 1 ? this.texts[0] : this.texts.join('\n');
    this.texts = [];
    this.chars = 0;
    this.room(text.length * 3 + 1); // UTF-8 needs at most 3 bytes per UTF-16 unit
    this.off += this.buf.utf8Write(text, this.off);
    this.buf[this.off++] = NEWLINE;
    this.bufEnd = this.counted;
  }

  // The bytes encoded so far become an item.
  closeRegion() {
    this.encodeTexts();
    if (this.off === this.start) return;
    this.items.push(this.buf.subarray(this.start, this.off));
    this.quoted.push(false);
    this.ends.push(this.bufEnd);
    this.start = this.off;
  }

  room(n) {
    const buf = this.buf;
    if (buf !== null && buf.length - this.off >= n) return;
    this.closeRegion();
    if (buf !== null) this.retired.push(buf, this.bufEnd);
    this.buf = writeChunk(n, buf === null ? WRITE_CHUNK : Math.min(BATCH_MAX_CHUNK, buf.length * 2));
    this.off = 0;
    this.start = 0;
  }

  // The writes of everything up to `end` are done (writes complete in
  // order): recycle the chunks none of whose bytes lie beyond it, and the
  // current one too once everything added has been written.
  written(end) {
    const retired = this.retired;
    let i = this.retiredNext;
    while (i < retired.length && retired[i + 1] <= end) {
      recycleChunk(retired[i]);
      retired[i] = null;
      i += 2;
    }
    if (i === retired.length) {
      if (i !== 0) this.retired = [];
      i = 0;
    } else if (i > 4096) {
      this.retired = retired.slice(i); // forget what was recycled, now and then
      i = 0;
    }
    this.retiredNext = i;
    if (end === this.counted && this.buf !== null) {
      recycleChunk(this.buf);
      this.buf = null;
      this.off = 0;
      this.start = 0;
    }
  }

  // The next bytes to write, about `limit` of them or fewer (at least one
  // item): { payload, chunk, end }.
  take(limit) {
    this.closeRegion();
    const items = this.items;
    if (this.next === items.length) return null;
    const pieces = [];
    let total = 0;
    let chunk = null; // where long strings are encoded for this write
    let words = null;
    let off = 0;
    let from = 0;
    // Makes room for `need` bytes in the chunk; false when the item must
    // wait for the next write (this one has something already).
    const ensure = (need) => {
      if (chunk !== null && chunk.length - off >= need) return true;
      if (chunk !== null && total !== 0) return false;
      if (chunk !== null) recycleChunk(chunk); // unused: make a bigger one
      chunk = writeChunk(need);
      words = wordsOf(chunk);
      off = from = 0;
      return true;
    };
    let i = this.next;
    for (; i < items.length && total < limit; i++) {
      let item = items[i];
      if (typeof item !== 'string') {
        if (off !== from) pieces.push(chunk.subarray(from, off));
        from = off;
        pieces.push(item);
        total += item.length;
        continue;
      }
      if (this.quoted[i]) {
        // A string message: its plain quoted text, else JSON.stringify's.
        if (!ensure(item.length + 7)) break;
        const end = writePlainString(chunk, words, off, item);
        if (end >= 0) {
          total += end - off;
          off = end;
          continue;
        }
        item = items[i] = JSON.stringify(item) + '\n';
        this.quoted[i] = false;
      }
      if (!ensure(item.length * 3)) break; // UTF-8: at most 3 bytes per UTF-16 unit
      const n = chunk.utf8Write(item, off);
      off += n;
      total += n;
    }
    if (off !== from) pieces.push(chunk.subarray(from, off));
    if (chunk !== null && off === 0) {
      recycleChunk(chunk);
      chunk = null;
    }
    const end = this.ends[i - 1];
    // Forget what was taken (in slices, not a shift per write).
    if (i === items.length || i > 4096) {
      this.items = items.slice(i);
      this.quoted = this.quoted.slice(i);
      this.ends = this.ends.slice(i);
      this.next = 0;
    } else {
      for (let j = this.next; j < i; j++) items[j] = null;
      this.next = i;
    }
    this.taken = end;
    return { payload: pieces.length === 1 ? pieces[0] : pieces, chunk, end };
  }
}

// Memory for at least `n` bytes: the last spare chunk if it is big enough,
// else a new one of `size` bytes (or n).
function writeChunk(n, size = WRITE_CHUNK) {
  const last = spareChunks.length !== 0 ? spareChunks[spareChunks.length - 1] : null;
  if (last !== null && last.length >= n) {
    spareChunks.pop();
    spareBytes -= last.length;
    return last;
  }
  return Buffer.allocUnsafeSlow(Math.max(n, size));
}

// The write that used `chunk` is done: it may carry the next one (chunks
// of the sizes made above only, while the spares stay within SPARE_BYTES).
function recycleChunk(chunk) {
  if (chunk === null || chunk.length < WRITE_CHUNK || chunk.length > BATCH_MAX_CHUNK) return;
  if (spareBytes + chunk.length > SPARE_BYTES) return;
  spareChunks.push(chunk);
  spareBytes += chunk.length;
}

// The generator form of feed(), for callers that iterate.
JSONParser.prototype.push = function push(chunk) {
  return itemsOf(this, chunk);
};
AdvancedParser.prototype.push = JSONParser.prototype.push;

const modes = {
  json: { Parser: JSONParser, encode: encodeJSON, payload: encodeJSONPayload },
  advanced: { Parser: AdvancedParser, encode: encodeAdvanced, payload: encodeAdvanced },
};

function createParser(mode, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE) {
  return new modes[mode].Parser(maxMessageSize);
}

function encode(mode, message) {
  return modes[mode].encode(message);
}

// The same bytes as encode(), as a string or a Buffer, whichever is cheaper
// to make and write.
function encodePayload(mode, message) {
  return modes[mode].payload(message);
}

module.exports = {
  MESSAGE,
  BAD,
  FATAL,
  createParser,
  encode,
  encodePayload,
  DEFAULT_MAX_MESSAGE_SIZE,
  ChannelSerializer,
  ChannelDeserializer,
  Batch,
  recycleChunk,
  writeChunk,
};
