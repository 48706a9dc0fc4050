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
const { isArrayBufferView } = require('util').types;
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

// The items of one chunk as objects: { message } | { error } | { fatal }.
function* itemsOf(parser, chunk) {
  const items = [];
  parser.feed(chunk, (kind, value) => {
    items.push(kind === MESSAGE ? { message: value } : kind === BAD ? { error: value } : { fatal: value });
  });
  yield* items;
}

function encodeJSON(message) {
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

function encodeAdvanced(message) {
  const ser = new ChannelSerializer();
  ser.writeRawBytes(Buffer.alloc(4)); // room for the length
  ser.writeHeader();
  ser.writeValue(message);
  const frame = ser.releaseBuffer();
  frame.writeUInt32BE(frame.length - 4, 0);
  return frame;
}

// The generator form of feed(), for callers that iterate.
JSONParser.prototype.push = function push(chunk) {
  return itemsOf(this, chunk);
};
AdvancedParser.prototype.push = JSONParser.prototype.push;

const modes = {
  json: { Parser: JSONParser, encode: encodeJSON },
  advanced: { Parser: AdvancedParser, encode: encodeAdvanced },
};

function createParser(mode, maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE) {
  return new modes[mode].Parser(maxMessageSize);
}

function encode(mode, message) {
  return modes[mode].encode(message);
}

module.exports = {
  MESSAGE,
  BAD,
  FATAL,
  createParser,
  encode,
  DEFAULT_MAX_MESSAGE_SIZE,
  ChannelSerializer,
  ChannelDeserializer,
};
