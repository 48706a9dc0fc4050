'use strict';
// The IPC channel over a pipewrap Pipe(IPC), the part fork() and
// openChannel() share (Node's setupChannel in internal/child_process):
// ChannelCore reads and frames messages (lib/ipc-serialization.js), sends
// them (written at send(), or batched behind a pending write), runs the
// NODE_HANDLE / ACK / NACK protocol (handles themselves: lib/ipc-handles.js)
// and closes the channel; Control is the public `channel` object.
//
// Protocol: node-pipe-contract.md §3 (the 'json' and 'advanced' wire
// formats, internal 'NODE_*' commands, handle passing, socket lists).

const { AsyncResource } = require('async_hooks');
const { Buffer } = require('buffer');
const EventEmitter = require('events');
const util = require('util');
const binding = require('./binding');
const { codes, errnoException } = require('./errors');
const { createParser, encodePayload: encode, DEFAULT_MAX_MESSAGE_SIZE, MESSAGE, BAD, Batch, recycleChunk } = require('./ipc-serialization');
const { handleConversion, handleTypeOf, convertReceived, isUnsupported, closeRaw } = require('./ipc-handles');
const { onSocketListCommand } = require('./ipc-socket-list');
const { Delivery } = require('./ipc-delivery');

const {
  WriteWrap,
  streamBaseState,
  kReadBytesOrError,
  kArrayBufferOffset,
  kLastWriteWasAsync,
} = binding;

// process.nextTick is looked up per call, as Node's channel does (a user
// or a fake-timers library that replaces it reaches the channel too).

const MAX_HANDLE_RETRANSMISSIONS = 3;
const WRITE_QUEUE_HIGH_WATER = 65536 * 2;
// How much of a batch one write takes (about a socket buffer's worth).
const WRITE_PIECE = 256 * 1024;
// How much a batch grows between two tries to hand the socket what the peer
// has read meanwhile: a quarter of a piece, so a peer that reads faster
// than this process encodes does not wait for a whole piece (a socket
// buffer holds ~1,000 short messages; bench ipc-oneway-nested, pipewrap-only
// A/B of 16 pairs: +8% with 64 KiB against 256 KiB; 16 KiB was slower).
const TRY_FLUSH_EVERY = 64 * 1024;
const INTERNAL_PREFIX = 'NODE_';
const noop = () => {};
// send()'s options when none are given (never written to).
const DEFAULT_SEND_OPTIONS = Object.freeze({ __proto__: null, swallowErrors: false });
const SWALLOW_ERRORS = Object.freeze({ __proto__: null, swallowErrors: true });

// ------------------------------------------------------------------ options

function validateSerialization(mode, name) {
  if (mode === undefined) return 'json';
  if (mode !== 'json' && mode !== 'advanced') {
    throw codes.ERR_INVALID_ARG_VALUE(name, mode, "must be one of: undefined, 'json', 'advanced'");
  }
  return mode;
}

function validateMaxMessageSize(value) {
  if (value === undefined) return DEFAULT_MAX_MESSAGE_SIZE;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw codes.ERR_INVALID_ARG_VALUE('options.maxMessageSize', value, 'must be a positive integer');
  }
  return value;
}

// ------------------------------------------------------------------ _channel

// `_channel`: Node's deprecated alias of `channel` (DEP0129), still defined
// on ChildProcess and process in Node 20-24: an own, non-enumerable accessor
// that warns once. Setting it replaces `channel`, as in Node.
const channelDeprecation = '_channel is deprecated. Use ChildProcess.channel instead.';
const getChannelAlias = util.deprecate(function getChannel() {
  return this.channel;
}, channelDeprecation, 'DEP0129');
const setChannelAlias = util.deprecate(function setChannel(value) {
  Object.defineProperty(this, 'channel', { value, writable: true, configurable: true, enumerable: true });
}, channelDeprecation, 'DEP0129');

function defineChannelAlias(target) {
  Object.defineProperty(target, '_channel', {
    get: getChannelAlias,
    set: setChannelAlias,
    configurable: true,
    enumerable: false,
  });
}

// ------------------------------------------------------------------ Control
// The public `channel` object: ref/unref with Node's listener/in-flight
// reference counting.

class Control extends EventEmitter {
  #pipe;
  #refs = 0;
  #explicit = false;

  constructor(pipe) {
    super();
    this.#pipe = pipe;
  }

  refCounted() {
    if (++this.#refs === 1 && !this.#explicit) this.#pipe.ref();
  }

  unrefCounted() {
    if (--this.#refs === 0 && !this.#explicit) {
      this.#pipe.unref();
      this.emit('unref');
    }
  }

  ref() {
    this.#explicit = true;
    this.#pipe.ref();
  }

  unref() {
    this.#explicit = true;
    this.#pipe.unref();
  }

  get fd() {
    const fd = this.#pipe.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : undefined;
  }
}

// ------------------------------------------------------------------ ChannelCore

function isInternal(message) {
  return message !== null &&
    typeof message === 'object' &&
    typeof message.cmd === 'string' &&
    message.cmd.length > INTERNAL_PREFIX.length &&
    message.cmd.startsWith(INTERNAL_PREFIX);
}

function isAckNack(message) {
  return message !== null && typeof message === 'object' &&
    (message.cmd === 'NODE_HANDLE_ACK' || message.cmd === 'NODE_HANDLE_NACK');
}

// The callback or, without one, the target's 'error' gets `err` on the next tick.
function reportLater(target, callback, err) {
  if (typeof callback === 'function') process.nextTick(callback, err);
  else process.nextTick(() => target.emit('error', err));
}

class ChannelCore {
  constructor(target, pipe, mode, { maxMessageSize, handleSendRefused = null }) {
    this.target = target;
    this.pipe = pipe;
    this.mode = mode;
    this.parser = createParser(mode, maxMessageSize);
    this.sinkBound = (kind, value) => this.onParsed(kind, value);
    this.control = new Control(pipe);
    this.events = new Delivery(target);

    this.connected = true;     // false as soon as disconnect is requested
    this.finished = false;     // channel torn down, 'disconnect' queued
    this.disconnectWhenIdle = false;
    this.pipeClosed = false;
    this.reads = 0;            // onread calls so far (fork's exit ordering watches it)
    this.handleSendRefused = handleSendRefused; // why handles cannot go over this pipe, or null
    this.readBuffer = null;    // the ArrayBuffer of the last read, and a Buffer over all of it
    this.readView = null;
    // Hooks for the owner (fork's setupChannel): connected or finished
    // changed; the pipe's close callback ran.
    this.onStateChange = null;
    this.onPipeClosed = null;

    // Plain messages sent while a write is pending go out in one write (see sendPlain).
    this.batch = null;         // payloads waiting behind a pending write (a Batch)
    this.pieceReleases = [];   // per batch piece in the native queue: frees its memory
    this.batchCallbacks = null; // [counted length at the message's end, callback, ...]
    this.batchCallbacksTaken = 0; // how far batchCallbacks was handed to writes
    this.nextTryFlush = 0;     // the batch's counted length at which send() next tries to write
    this.asyncWrites = 0;      // writes waiting in the native queue
    // One entry per write waiting in the native queue, oldest first: the
    // callbacks of writes that completed at once behind it, which run
    // after its own (see completeInOrder), or null while there are none.
    this.behindAsync = [];
    // The native queue's size while a batch grows, read once per run of JS:
    // nothing is written natively then, and the queue drains only in the
    // event loop's poll phase, never before the microtask that clears it.
    this.nativeQueued = -1;
    this.clearNativeQueued = () => {
      this.nativeQueued = -1;
    };

    this.handleQueue = null;   // sends waiting for NODE_HANDLE_ACK
    this.awaitingAck = null;   // the handle send in flight
    this.recvHandle = null;    // fd received, not yet matched to NODE_HANDLE

    this.sendLists = new Map(); // socket lists (lib/ipc-socket-list.js)
    this.recvLists = new Map();
    this.replyWaiters = new Set();
    this.closeWaiters = new Set();
  }

  start() {
    const pipe = this.pipe;
    pipe.pendingHandle = null;
    pipe.onread = (arrayBuffer) => this.onRead(arrayBuffer);
    // onRead honours the offset: small reads may come from a shared pool.
    if (typeof pipe.setPooledReads === 'function') pipe.setPooledReads(true);
    const err = pipe.readStart();
    if (err) {
      const ex = errnoException(err, 'read');
      process.nextTick(() => {
        this.fault(ex);
        this.teardown();
      });
    }
    this.target.on('newListener', (name) => this.events.onNewListener(name));
  }

  fault(err) {
    this.events.deliver('error', [err]);
  }

  // ---------------------------------------------------------------- reading

  onRead(arrayBuffer) {
    this.reads++;
    const pipe = this.pipe;
    const received = pipe.pendingHandle;
    pipe.pendingHandle = null;
    if (this.finished) {
      closeRaw(received);
      return;
    }
    if (!arrayBuffer) {
      // EOF, or a read error such as ECONNRESET: the peer is gone either way.
      closeRaw(received);
      this.connected = false;
      this.teardown();
      return;
    }
    const nread = streamBaseState[kReadBytesOrError];
    const offset = streamBaseState[kArrayBufferOffset];
    // A view of the whole read buffer, kept while reads come from the same
    // one (small reads come from a shared pool): no Buffer per read.
    let view = this.readView;
    if (this.readBuffer !== arrayBuffer) {
      this.readBuffer = arrayBuffer;
      this.readView = view = Buffer.from(arrayBuffer);
    }
    // The common case, one whole message in the read: parsed straight from
    // the read buffer.
    if (!received && this.recvHandle === null && this.parser.feedWhole !== undefined &&
        this.parser.feedWhole(view, offset, offset + nread, this.sinkBound)) {
      if (this.disconnectWhenIdle && !this.finished) this.teardown();
      return;
    }
    const chunk = view.subarray(offset, offset + nread);
    if (received) {
      // At most one fd per read; keep it until the NODE_HANDLE message that
      // it came with has been parsed completely (it may span reads).
      closeRaw(this.recvHandle);
      this.recvHandle = received;
    }
    this.parser.feed(chunk, this.sinkBound);
    if (this.finished) return; // torn down by a fatal item, or an ACK completed a pending disconnect()
    if (this.recvHandle && !this.parser.buffering) {
      // The message the fd came with is complete and was not NODE_HANDLE:
      // nothing can claim it any more. Close it rather than hoard it (or
      // pair it with a later NODE_HANDLE it does not belong to).
      closeRaw(this.recvHandle);
      this.recvHandle = null;
    }
    if (this.disconnectWhenIdle && !this.parser.buffering) this.teardown();
  }

  // The parser's sink: false stops the rest of the chunk.
  onParsed(kind, value) {
    if (kind === MESSAGE) {
      this.dispatch(value);
      return !this.finished; // an ACK may complete a pending disconnect()
    }
    this.fault(value);
    if (kind === BAD) return true;
    this.connected = false; // FATAL: the stream cannot continue
    this.teardown();
    return false;
  }

  dispatch(message) {
    if (!isInternal(message)) {
      this.events.deliverMessage(message);
      return;
    }
    if (message.cmd === 'NODE_HANDLE') {
      // Emitted (with the converted handle) once the handle is ready.
      const handle = this.recvHandle;
      this.recvHandle = null;
      this.onHandleMessage(message, handle);
      return;
    }
    // Queued before acting on it, so it precedes a 'disconnect' it causes.
    this.events.deliver('internalMessage', [message, undefined]);
    if (message.cmd === 'NODE_HANDLE_ACK' || message.cmd === 'NODE_HANDLE_NACK') {
      this.onAck(message.cmd === 'NODE_HANDLE_ACK');
    } else {
      onSocketListCommand(this, message);
    }
  }

  onHandleMessage(message, handle) {
    if (!handle) {
      this.sendInternal({ cmd: 'NODE_HANDLE_NACK' }, true);
      return;
    }
    if (isUnsupported(handle)) {
      // Our binding already closed an fd it cannot wrap (a file, a FIFO...).
      this.sendInternal({ cmd: 'NODE_HANDLE_NACK' }, true);
      this.fault(codes.ERR_IPC_BAD_HANDLE(`fd of unsupported type for '${message.type}'`));
      return;
    }
    this.sendInternal({ cmd: 'NODE_HANDLE_ACK' }, true);
    // As Node on Windows (where a received handle is a TCP one).
    if (process.platform === 'win32' && typeof handle.setSimultaneousAccepts === 'function') {
      handle.setSimultaneousAccepts(false);
    }

    const slot = this.events.reserve(isInternal(message.msg) ? 'internalMessage' : 'message');
    const done = (err, converted) => {
      if (err) {
        closeRaw(handle);
        this.fault(codes.ERR_IPC_BAD_HANDLE(err.message));
        this.events.cancel(slot);
        return;
      }
      this.events.fill(slot, [message.msg, converted]);
    };
    try {
      convertReceived(this, message, handle, done);
    } catch (err) {
      done(err);
    }
  }

  // ---------------------------------------------------------------- sending

  send(message, handle, options, callback) {
    if (typeof handle === 'function') {
      callback = handle;
      handle = undefined;
      options = undefined;
    } else if (typeof options === 'function') {
      callback = options;
      options = undefined;
    } else if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
      throw codes.ERR_INVALID_ARG_TYPE('options', 'object', options);
    }
    if (callback !== undefined && typeof callback !== 'function') {
      throw codes.ERR_INVALID_ARG_TYPE('callback', 'function', callback);
    }
    // Own properties only: keepOpen is never read through the prototype.
    options = options === undefined ? DEFAULT_SEND_OPTIONS : { __proto__: null, swallowErrors: false, ...options };

    if (this.connected) return this._send(message, handle, options, callback);
    reportLater(this.target, callback, codes.ERR_IPC_CHANNEL_CLOSED());
    return false;
  }

  sendInternal(message, swallowErrors) {
    if (this.finished) return false;
    return this._send(message, null, { swallowErrors }, undefined);
  }

  _send(message, handle, options, callback) {
    if (message === undefined) throw codes.ERR_MISSING_ARGS('message');
    const t = typeof message;
    if (t !== 'string' && t !== 'object' && t !== 'number' && t !== 'boolean') {
      throw codes.ERR_INVALID_ARG_TYPE('message', ['string', 'object', 'number', 'boolean'], message);
    }
    if (typeof options === 'boolean') options = { swallowErrors: options };
    if (!handle) return this.sendPlain(message, options, callback);

    const type = handleTypeOf(handle);
    if (!type) throw codes.ERR_INVALID_HANDLE_TYPE();
    if (this.handleQueue) {
      this.handleQueue.push({ message, handle, options, callback });
      return this.handleQueue.length === 1;
    }
    return this.sendWithHandle(message, handle, type, options, callback);
  }

  // A message without a handle: written now, batched behind a pending
  // write, or queued behind a handle that is not acknowledged yet.
  sendPlain(message, options, callback) {
    if (this.handleQueue !== null && !isAckNack(message)) {
      const payload = encode(this.mode, message); // throws here, not when flushed
      // Keep order: nothing overtakes a handle that is not acknowledged yet.
      this.handleQueue.push({ message, handle: null, options, callback, payload });
      return this.handleQueue.length === 1;
    }
    if (this.batch === null && this.asyncWrites === 0) {
      this.write(encode(this.mode, message), null, options, callback);
    } else {
      this.addToBatch(message, callback);
    }
    return this.queuedBytes() + (this.batch === null ? 0 : this.batch.length) < WRITE_QUEUE_HIGH_WATER;
  }

  // Behind a pending write: encoded straight into the batch (a throw leaves
  // the batch as it was).
  addToBatch(message, callback) {
    if (this.batch === null) {
      this.batch = new Batch();
      this.batchCallbacks = [];
      this.batchCallbacksTaken = 0;
      this.nextTryFlush = TRY_FLUSH_EVERY;
    }
    const batch = this.batch;
    batch.addMessage(this.mode, message);
    // Bound to this send()'s async context: the batch's write is made later,
    // in another one, and Node runs each send's callback in the context of
    // the write it made at send() (so an AsyncLocalStorage store set around
    // send() is the one the callback sees).
    if (typeof callback === 'function') this.batchCallbacks.push(batch.counted, AsyncResource.bind(callback));
    // A send() loop can queue far more than one loop turn: each time
    // TRY_FLUSH_EVERY more is waiting, let the socket take what the peer has read
    // meanwhile, and go on with the batch if the native queue emptied,
    // so the peer works while this loop runs (not only after it).
    // One try per TRY_FLUSH_EVERY added, not one per message.
    if (batch.counted >= this.nextTryFlush && this.pipe.tryFlush !== undefined) {
      this.nextTryFlush = batch.counted + TRY_FLUSH_EVERY;
      if (this.pipe.tryFlush() === 0) {
        // The kernel has every queued byte: the pieces' memory is free now,
        // before their completions run on the next loop turn.
        this.releasePieces();
        this.flushBatch();
      }
    }
  }

  releasePieces() {
    const releases = this.pieceReleases;
    if (releases.length === 0) return;
    this.pieceReleases = [];
    for (const release of releases) release();
  }

  queuedBytes() {
    if (this.batch === null) return this.writeQueueSize();
    if (this.nativeQueued < 0) {
      this.nativeQueued = this.writeQueueSize();
      queueMicrotask(this.clearNativeQueued);
    }
    return this.nativeQueued;
  }

  // Batching. A message without a handle is written at send(), as Node
  // writes it, so what the user sees (callback results, 'error' events, what
  // reaches a peer that is killed right after) is Node's. Only messages sent
  // while an earlier write is still pending in the native queue are
  // coalesced (see sendPlain): Node would queue each of them behind that
  // write too, and such queued writes always complete with callback(null) in
  // Node. They go out when the pending one completes (or earlier, before
  // anything that must not overtake them: a handle send, a disconnect).
  //
  // flushBatch writes what the batch holds: with `all`, everything now (before a
  // handle, a disconnect or close: nothing may overtake it); else about one
  // write's worth (WRITE_PIECE) at a time, the next when that one is done,
  // so a long burst is encoded into reused memory as the peer takes it.
  flushBatch(all = false) {
    while (this.batch !== null) {
      if (this.finished) {
        this.dropBatch();
        return;
      }
      const batch = this.batch;
      const taken = batch.take(all ? Infinity : WRITE_PIECE);
      const callbacks = this.writtenCallbacks(taken === null ? Infinity : taken.end);
      if (batch.empty) {
        this.batch = null;
        this.batchCallbacks = null;
      }
      if (taken === null) {
        for (const cb of callbacks) this.completeInOrder(cb);
        continue;
      }
      if (this.writePiece(batch, taken, callbacks) && !all) return; // its completion writes the next piece
    }
  }

  // The channel closed with messages still batched: their callbacks get
  // ERR_IPC_CHANNEL_CLOSED.
  dropBatch() {
    const cbs = this.batchCallbacks;
    this.batch = null;
    this.batchCallbacks = null;
    for (let i = this.batchCallbacksTaken + 1; i < cbs.length; i += 2) {
      process.nextTick(cbs[i], codes.ERR_IPC_CHANNEL_CLOSED());
    }
  }

  // Write a piece taken from `batch`; true when the write went async.
  writePiece(batch, taken, callbacks) {
    // Once the kernel has the bytes (or they were dropped), their memory
    // carries the next ones: exactly once per piece.
    let inFlight = true;
    const release = () => {
      if (!inFlight) return;
      inFlight = false;
      recycleChunk(taken.chunk);
      batch.written(taken.end);
    };
    const done = () => {
      if (this.pieceReleases[0] === release) this.pieceReleases.shift(); // completions come in order
      release();
      for (const cb of callbacks) cb(null);
    };
    // Queued messages, in Node's terms: no error is reported for them.
    const err = this.write(taken.payload, null, SWALLOW_ERRORS, done);
    const wasAsync = err === 0 && streamBaseState[kLastWriteWasAsync] !== 0;
    if (wasAsync) this.pieceReleases.push(release);
    else release();
    if (err !== 0) process.nextTick(done);
    return wasAsync;
  }

  // The callbacks of the batched messages that end at or before `end`.
  writtenCallbacks(end) {
    const cbs = this.batchCallbacks;
    const out = [];
    let i = this.batchCallbacksTaken;
    while (i < cbs.length && cbs[i] <= end) {
      out.push(cbs[i + 1]);
      i += 2;
    }
    if (i > 8192) {
      // A batch that never empties: drop what was handed out, now and then.
      this.batchCallbacks = cbs.slice(i);
      i = 0;
    }
    this.batchCallbacksTaken = i;
    return out;
  }

  sendWithHandle(message, handle, type, options, callback) {
    this.flushBatch(true); // earlier plain messages go first
    const conversion = handleConversion[type];
    const wire = { cmd: 'NODE_HANDLE', type, msg: message };
    const raw = conversion.send(this, wire, handle);
    if (raw && this.handleSendRefused) {
      throw codes.ERR_FEATURE_UNAVAILABLE_ON_PLATFORM(this.handleSendRefused);
    }
    if (raw && conversion.simultaneousAccepts && process.platform === 'win32') {
      // As Node on Windows: a server goes set for simultaneous accepts. A
      // named-pipe server has no such method (libuv moves only TCP
      // sockets): Node throws a TypeError from here, ours has a code.
      if (typeof raw.setSimultaneousAccepts !== 'function') {
        throw codes.ERR_FEATURE_UNAVAILABLE_ON_PLATFORM('sending a named-pipe server over IPC on Windows');
      }
      raw.setSimultaneousAccepts(true);
    }

    if (!raw) {
      // Nothing native to pass (a destroyed socket, a closed server): Node
      // then sends the bare message.
      const payload = encode(this.mode, message);
      this.write(payload, null, options, callback);
      return this.writeQueueSize() < WRITE_QUEUE_HIGH_WATER;
    }

    const payload = encode(this.mode, wire); // may throw: nothing changed yet
    const closeAfterAck = conversion.commit ? conversion.commit(this, wire, handle, raw, options) : false;

    const err = this.write(payload, raw, options, callback);
    if (err === 0) {
      this.handleQueue = [];
      this.awaitingAck = { payload, raw, closeAfterAck, options, retransmissions: 0 };
    } else if (closeAfterAck) {
      closeRaw(raw);
    }
    return this.writeQueueSize() < WRITE_QUEUE_HIGH_WATER;
  }

  onAck(ok) {
    const pending = this.awaitingAck;
    if (pending) {
      const retry = !ok && pending.retransmissions < MAX_HANDLE_RETRANSMISSIONS;
      if (retry) {
        pending.retransmissions++;
        const err = this.write(pending.payload, pending.raw, SWALLOW_ERRORS, undefined);
        if (err === 0) return; // still waiting; the queue stays queued
      }
      this.awaitingAck = null;
      if (pending.closeAfterAck) closeRaw(pending.raw);
      if (!ok && !retry) {
        process.emitWarning('Handle did not reach the receiving process correctly',
                            'SentHandleNotReceivedWarning');
      }
    }
    this.drainHandleQueue();
  }

  // The handle in flight is settled: what queued behind it goes out, in
  // order, until the next handle.
  drainHandleQueue() {
    if (!this.handleQueue) return;
    const queue = this.handleQueue;
    this.handleQueue = null;
    for (const q of queue) {
      if (this.finished) {
        if (typeof q.callback === 'function') process.nextTick(q.callback, codes.ERR_IPC_CHANNEL_CLOSED());
      } else if (!q.handle) {
        if (this.handleQueue) this.handleQueue.push(q); // behind a handle sent just now
        else this.write(q.payload, null, q.options, q.callback);
      } else {
        try {
          this._send(q.message, q.handle, q.options, q.callback);
        } catch (err) {
          // Serializing a queued handle message failed: report, don't throw
          // out of the read callback.
          reportLater(this.target, q.callback, err);
        }
      }
    }
    if (!this.connected && !this.finished && !this.handleQueue) this._disconnect();
  }

  write(payload, raw, options, callback) {
    const pipe = this.pipe;
    this.nativeQueued = -1;
    const req = new WriteWrap();
    let err;
    if (typeof payload === 'string') {
      err = raw ? pipe.writeUtf8String(req, payload, raw) : pipe.writeUtf8String(req, payload);
    } else if (Array.isArray(payload)) {
      err = pipe.writev(req, payload, true); // a batch: never with a handle
    } else {
      err = raw ? pipe.writeBuffer(req, payload, raw) : pipe.writeBuffer(req, payload);
    }
    if (err !== 0) {
      if (!options.swallowErrors) reportLater(this.target, callback, errnoException(err, 'write'));
    } else if (streamBaseState[kLastWriteWasAsync]) {
      this.waitForWrite(req, payload, callback);
    } else if (typeof callback === 'function') {
      this.completeInOrder(callback);
    }
    return err;
  }

  // The callback of a write that completed at once. Callbacks keep send()
  // order: while an earlier write still waits (say, the batch flushed after
  // tryFlush emptied the native queue, whose completions come next turn),
  // it runs right after that write's, as in Node, whose later writes all
  // queue behind the first async one.
  completeInOrder(callback) {
    if (this.asyncWrites === 0) {
      process.nextTick(callback, null);
      return;
    }
    const last = this.behindAsync.length - 1;
    (this.behindAsync[last] ??= []).push(callback);
  }

  // A write that went asynchronous: the channel stays referenced until it
  // completes.
  waitForWrite(req, payload, callback) {
    req.buffer = payload; // keep the bytes alive until written
    this.control.refCounted();
    this.asyncWrites++;
    this.behindAsync.push(null); // no array until a callback needs one
    req.oncomplete = () => {
      // As Node's channel: a write that went asynchronous completes
      // with callback(null) whatever its status; a broken channel shows
      // as 'disconnect'. Messages queued behind it go out now.
      this.asyncWrites--;
      this.control.unrefCounted();
      const behind = this.behindAsync.shift(); // completions come in order
      if (typeof callback === 'function') callback(null);
      if (behind !== null) for (const cb of behind) cb(null);
      this.flushBatch();
    };
  }

  writeQueueSize() {
    // Nothing went async, so the native queue is empty: no need to ask.
    if (this.finished || this.asyncWrites === 0) return 0;
    const n = this.pipe.writeQueueSize;
    return typeof n === 'number' ? n : 0;
  }

  // ---------------------------------------------------------------- closing

  disconnect() {
    if (!this.connected) {
      this.target.emit('error', codes.ERR_IPC_DISCONNECTED());
      return;
    }
    this.connected = false;
    if (this.onStateChange) this.onStateChange();
    if (!this.handleQueue) this._disconnect();
  }

  _disconnect() {
    if (this.finished) return;
    this.flushBatch(true); // what was sent before disconnect() still goes out
    // Let a message that is half-read complete first, like Node.
    if (this.parser.buffering) {
      this.disconnectWhenIdle = true;
      return;
    }
    this.teardown();
  }

  teardown() {
    if (this.finished) return;
    this.flushBatch(true);
    this.finished = true;
    this.connected = false;
    if (this.onStateChange) this.onStateChange();
    this.closePipe();
    this.dropHandles();
    this.readBuffer = null; // the last read's memory (up to 64 KiB) goes with the channel
    this.readView = null;
    for (const onClose of [...this.closeWaiters]) onClose();
    this.closeWaiters.clear();
    this.replyWaiters.clear();
    for (const list of this.sendLists.values()) list.emit('exit', list);
    this.events.deliver('disconnect', []);
  }

  closePipe() {
    const pipe = this.pipe;
    pipe.onread = noop;
    if (typeof pipe.readStop === 'function') pipe.readStop();
    pipe.close(() => {
      this.pipeClosed = true;
      if (this.onPipeClosed) this.onPipeClosed();
    });
  }

  // The channel is gone: close the fds it still holds, fail the sends
  // queued behind a handle.
  dropHandles() {
    closeRaw(this.recvHandle);
    this.recvHandle = null;
    if (this.awaitingAck) {
      if (this.awaitingAck.closeAfterAck) closeRaw(this.awaitingAck.raw);
      this.awaitingAck = null;
    }
    if (this.handleQueue) {
      for (const q of this.handleQueue) {
        if (typeof q.callback === 'function') process.nextTick(q.callback, codes.ERR_IPC_CHANNEL_CLOSED());
      }
      this.handleQueue = null;
    }
  }
}

module.exports = {
  ChannelCore,
  validateSerialization,
  validateMaxMessageSize,
  defineChannelAlias,
};
