'use strict';
// The fork IPC channel over a pipewrap Pipe(IPC): fork() and openChannel().
//
// Speaks Node's own channel protocol (node-pipe-contract.md §3): the 'json'
// and 'advanced' wire formats, internal 'NODE_*' commands, handle passing
// with NODE_HANDLE / NODE_HANDLE_ACK / NODE_HANDLE_NACK, and the socket-list
// commands Node's net.Server uses to count connections it handed over.
//
//   fork(modulePath[, args][, options]) -> ChildProcessIPC
//     child_process.fork() with a pipewrap channel: a socketpair() whose
//     child end becomes stdio entry N ('ipc' in options.stdio, default 3)
//     with NODE_CHANNEL_FD=N, so a plain Node child just uses process.send.
//     Options as for fork (cwd, env, execPath, execArgv, silent, stdio,
//     serialization, ...) plus maxMessageSize.
//   openChannel(fd[, { serialization, maxMessageSize }]) -> IPCChannel
//     The same channel on an inherited fd, for a child whose Node runtime
//     did not open it. Referenced only while it has 'message'/'disconnect'
//     listeners or writes in flight (ref()/unref() override that).
//
// Differences from Node, on purpose: a malformed message, a received fd of an
// unsupported type and an oversized message are reported as 'error' events
// (or, with no 'error' listener, process warnings) instead of crashing the
// process; 'exit' of a forked child is emitted after its 'disconnect'; a
// NACKed net.Server is retransmitted like a socket; a socket handed over
// stops being read here at once (Node keeps reading it until the ACK and
// drops what it reads).

const EventEmitter = require('events');
const childProcess = require('child_process');
const util = require('util');
const net = require('net');
const dgram = require('dgram');
const binding = require('./binding');
const { createParser, encodePayload: encode, DEFAULT_MAX_MESSAGE_SIZE, MESSAGE, BAD, Batch, recycleChunk } = require('./ipc-serialization');

const {
  Pipe,
  WriteWrap,
  streamBaseState,
  kReadBytesOrError,
  kArrayBufferOffset,
  kLastWriteWasAsync,
  constants,
} = binding;

const MAX_HANDLE_RETRANSMISSIONS = 3;
const WRITE_QUEUE_HIGH_WATER = 65536 * 2;
// How much of a batch one write takes (about a socket buffer's worth).
const WRITE_PIECE = 256 * 1024;
const INTERNAL_PREFIX = 'NODE_';
const kCore = Symbol('pipewrap.ipc.core');
const noop = () => {};
// send()'s options when none are given (never written to).
const DEFAULT_SEND_OPTIONS = Object.freeze({ __proto__: null, swallowErrors: false });
const SWALLOW_ERRORS = Object.freeze({ __proto__: null, swallowErrors: true });

// ------------------------------------------------------------------ errors

const { codes, errnoException } = require('./errors');

const errors = {
  channelClosed: () => codes.ERR_IPC_CHANNEL_CLOSED(),
  disconnected: () => codes.ERR_IPC_DISCONNECTED(),
  badHandle: (detail) => codes.ERR_IPC_BAD_HANDLE(detail),
  childClosed: () => codes.ERR_CHILD_CLOSED_BEFORE_REPLY(),
};

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

// ------------------------------------------------------------------ handle kinds

let pipewrapNet;
function getPipewrapNet() {
  // Required lazily: lib/index.js loads net and ipc side by side.
  if (pipewrapNet === undefined) pipewrapNet = require('./net');
  return pipewrapNet;
}

// Node's own raw wraps (TCP/Pipe/UDP) for recognising and creating
// 'net.Native' handles. process.binding is allow-listed in Node 20.
let nodeWraps;
function getNodeWraps() {
  if (nodeWraps === undefined) {
    nodeWraps = {};
    try {
      nodeWraps.TCP = process.binding('tcp_wrap').TCP;
      nodeWraps.TCPConstants = process.binding('tcp_wrap').constants;
      nodeWraps.Pipe = process.binding('pipe_wrap').Pipe;
      nodeWraps.UDP = process.binding('udp_wrap').UDP;
    } catch {
      // Not available (permission model, future Node): recognise ours only.
    }
  }
  return nodeWraps;
}

function isRawHandle(h) {
  if (h === null || typeof h !== 'object') return false;
  if (h instanceof Pipe || h[Symbol.for('pipewrap.Pipe')] === true) return true;
  const w = getNodeWraps();
  return Boolean((w.TCP && h instanceof w.TCP) || (w.Pipe && h instanceof w.Pipe));
}

function isNodeTCP(h) {
  const w = getNodeWraps();
  return Boolean(w.TCP && h instanceof w.TCP);
}

function isNodeUDP(h) {
  const w = getNodeWraps();
  return Boolean(w.UDP && h instanceof w.UDP);
}

// The wire type for a handle the user wants to send, in the order Node
// tests them; null: this handle type cannot be sent.
function handleTypeOf(handle) {
  const pw = getPipewrapNet();
  const branded = handle !== null && typeof handle === 'object';
  if (handle instanceof net.Socket || (pw && pw.Socket && handle instanceof pw.Socket) ||
      (branded && handle[Symbol.for('pipewrap.net.Socket')] === true)) return 'net.Socket';
  if (handle instanceof net.Server || (pw && pw.Server && handle instanceof pw.Server) ||
      (branded && handle[Symbol.for('pipewrap.net.Server')] === true)) return 'net.Server';
  if (isRawHandle(handle)) return 'net.Native';
  if (handle instanceof dgram.Socket) return 'dgram.Socket';
  if (isNodeUDP(handle)) return 'dgram.Native';
  return null;
}

// dgram keeps a socket's UDP wrap in internal state (Node's kStateSymbol,
// Symbol('state symbol')); there is no public accessor (`_handle` is a
// deprecated getter that warns).
let dgramStateSymbol;
function udpHandleOf(socket) {
  if (dgramStateSymbol === undefined) {
    dgramStateSymbol = Object.getOwnPropertySymbols(socket)
      .find((sym) => sym.description === 'state symbol') || null;
  }
  const state = dgramStateSymbol === null ? undefined : socket[dgramStateSymbol];
  return state && state.handle ? state.handle : null;
}

// An HTTP connection socket handed over: release its parser and detach it
// from the response using it, as Node does (the socket is gone from here).
let httpCommon;
function releaseHttpParser(socket) {
  if (!socket.parser) return;
  if (httpCommon === undefined) {
    try {
      httpCommon = require('_http_common');
    } catch {
      httpCommon = null;
    }
  }
  if (!httpCommon || typeof httpCommon.freeParser !== 'function' ||
      !(socket.parser instanceof httpCommon.HTTPParser)) return;
  httpCommon.freeParser(socket.parser, null, socket);
  if (socket._httpMessage && typeof socket._httpMessage.detachSocket === 'function') {
    socket._httpMessage.detachSocket(socket);
  }
}

function closeRaw(h) {
  if (!h) return;
  try {
    if (typeof h.close === 'function') {
      h.close();
    } else if (typeof h.fd === 'number' && h.fd >= 0) {
      // A plain { type, fd } descriptor from our binding: we own the fd
      // (closed natively: fs warns about fds it did not open in workers).
      binding.native.closeFd(h.fd);
      h.fd = -1;
    }
  } catch {
    // Already closed.
  }
}

// Start `op(onReady)` and call done(null, emitter) or done(err), whichever
// comes first, exactly once.
function settleOnce(emitter, op, done) {
  let settled = false;
  const onError = (err) => {
    if (settled) return;
    settled = true;
    done(err);
  };
  emitter.once('error', onError);
  op(() => {
    emitter.removeListener('error', onError);
    if (settled) return;
    settled = true;
    done(null, emitter);
  });
}

// ------------------------------------------------------------------ handle conversion
// One entry per wire type, as Node's handleConversion: send(core, wire,
// handle) returns the raw handle to pass (null: send the bare message) and
// may add fields to the wire message, changing nothing else; commit(core,
// wire, handle, raw, options), if present, runs once the message is known to
// serialize and returns true when our copy of the fd is to be closed after
// the ACK; got(core, message, handle, done) turns a received raw handle into
// the object to emit and calls done(null, object) or done(err) (or throws).
//
// A received raw handle is what the binding made of the fd: a Pipe for a
// Unix socket, or a { type: 'TCP' | 'UDP', fd } descriptor we own (Node's
// own TCP/UDP wraps under PIPEWRAP_BINDING=node).

function describeRaw(handle) {
  if (isRawHandle(handle) || isNodeUDP(handle)) {
    if (isNodeTCP(handle)) return 'TCP';
    if (isNodeUDP(handle)) return 'UDP';
    return 'PIPE';
  }
  return handle.type; // 'TCP' | 'UDP'
}

function refuse(kind, type) {
  throw new Error(`a ${kind} socket cannot arrive as '${type}'`);
}

// A descriptor's fd handed to Node: it owns (and on failure closes) it now.
function takeFd(handle) {
  const fd = handle.fd;
  handle.fd = -1;
  return fd;
}

const handleConversion = {
  'net.Native': {
    send: (core, wire, handle) => handle,
    got(core, message, handle, done) {
      const kind = describeRaw(handle);
      if (kind === 'UDP') refuse(kind, message.type);
      if (kind === 'TCP' && !isNodeTCP(handle)) {
        const { TCP, TCPConstants } = getNodeWraps();
        if (!TCP) return done(null, handle);
        const tcp = new TCP(TCPConstants.SOCKET);
        const err = tcp.open(handle.fd);
        if (err) throw errnoException(err, 'open');
        handle.fd = -1;
        return done(null, tcp);
      }
      done(null, handle);
    },
  },

  'net.Server': {
    send: (core, wire, server) => server._handle || null,
    got(core, message, handle, done) {
      const kind = describeRaw(handle);
      if (kind === 'UDP') refuse(kind, message.type);
      let server;
      let listenArg;
      if (kind === 'TCP') {
        server = new net.Server();
        listenArg = isNodeTCP(handle) ? handle : { fd: takeFd(handle) };
      } else {
        server = new (getPipewrapNet().Server)();
        listenArg = handle;
      }
      settleOnce(server, (l) => server.listen(listenArg, l), done);
    },
  },

  'net.Socket': {
    send(core, wire, socket) {
      const server = socket.server;
      if (server && typeof server._setupWorker === 'function' && server._connectionKey !== undefined) {
        // A socket a net.Server accepted: the receiver counts it for the
        // server's getConnections()/close().
        wire.key = server._connectionKey;
      }
      return socket._handle || null; // none (destroyed): Node sends the bare message
    },
    // Once the message is known to serialize: hand the socket over. Returns
    // true when our fd is to be closed once the peer ACKs.
    commit(core, wire, socket, raw, options) {
      if (wire.key !== undefined) {
        const server = socket.server;
        let list = core.sendLists.get(wire.key);
        if (!list) {
          list = new SocketListSend(core, wire.key);
          core.sendLists.set(wire.key, list);
          server._setupWorker(list);
        }
        if (!options.keepOpen && typeof server._connections === 'number') server._connections--;
      }
      if (options.keepOpen) return false;
      const owner = socket._server;
      if (wire.key === undefined && owner && typeof owner._connections === 'number') {
        // Accepted by a pipewrap Server (no worker protocol): it no longer
        // counts the socket, so close() does not wait for it.
        owner._connections--;
        socket._server = null;
        if (typeof owner._emitCloseIfDrained === 'function') owner._emitCloseIfDrained();
      }
      // Stop reading it here so the receiver gets every byte, and forget it.
      if (typeof raw.readStop === 'function') raw.readStop();
      raw.reading = false;
      raw.onread = noop;
      socket._handle = null;
      if (typeof socket.setTimeout === 'function') socket.setTimeout(0);
      releaseHttpParser(socket);
      return true;
    },
    got(core, message, handle, done) {
      const kind = describeRaw(handle);
      if (kind === 'UDP') refuse(kind, message.type);
      let socket;
      if (kind === 'TCP') {
        socket = isNodeTCP(handle) ?
          new net.Socket({ handle, readable: true, writable: true }) :
          new net.Socket({ fd: handle.fd, readable: true, writable: true });
      } else {
        socket = new (getPipewrapNet().Socket)({ handle, readable: true, writable: true });
      }
      core.trackReceivedSocket(message, socket);
      done(null, socket);
    },
  },

  'dgram.Native': {
    send: (core, wire, handle) => handle,
    got(core, message, handle, done) {
      const kind = describeRaw(handle);
      if (kind !== 'UDP') refuse(kind, message.type);
      if (isNodeUDP(handle)) return done(null, handle);
      const { UDP } = getNodeWraps();
      if (!UDP) throw new Error('cannot wrap a UDP fd');
      const udp = new UDP();
      const err = udp.open(handle.fd);
      if (err) throw errnoException(err, 'open');
      handle.fd = -1;
      done(null, udp);
    },
  },

  'dgram.Socket': {
    send(core, wire, socket) {
      wire.dgramType = socket.type;
      return udpHandleOf(socket);
    },
    got(core, message, handle, done) {
      const kind = describeRaw(handle);
      if (kind !== 'UDP') refuse(kind, message.type);
      const sock = dgram.createSocket(message.dgramType === 'udp6' ? 'udp6' : 'udp4');
      // dgram does not take the fd when bind({ fd }) fails: done(err) closes it.
      settleOnce(sock, (l) => sock.bind(isNodeUDP(handle) ? handle : { fd: handle.fd }, l), done);
    },
  },
};

// ------------------------------------------------------------------ socket lists
// Node's net.Server tracks the sockets it handed to another process through
// these request/reply commands (internal/socket_list in Node). We implement
// both ends so server.getConnections() and server.close() keep working.

class SocketListSend extends EventEmitter {
  constructor(core, key) {
    super();
    this.core = core;
    this.key = key;
  }

  _request(msg, replyCmd, swallowErrors, callback) {
    const core = this.core;
    if (!core.connected) {
      process.nextTick(callback, errors.childClosed());
      return;
    }
    const onReply = (reply) => {
      if (reply.cmd !== replyCmd || reply.key !== this.key) return;
      core.replyWaiters.delete(onReply);
      core.closeWaiters.delete(onClose);
      callback(null, reply);
    };
    const onClose = () => {
      core.replyWaiters.delete(onReply);
      callback(errors.childClosed());
    };
    core.replyWaiters.add(onReply);
    core.closeWaiters.add(onClose);
    core.sendInternal(msg, swallowErrors);
  }

  close(callback) {
    this._request({ cmd: 'NODE_SOCKET_NOTIFY_CLOSE', key: this.key },
                  'NODE_SOCKET_ALL_CLOSED', true, callback);
  }

  getConnections(callback) {
    this._request({ cmd: 'NODE_SOCKET_GET_COUNT', key: this.key },
                  'NODE_SOCKET_COUNT', false,
                  (err, msg) => (err ? callback(err) : callback(null, msg.count)));
  }
}

class SocketListReceive extends EventEmitter {
  constructor(core, key) {
    super();
    this.core = core;
    this.key = key;
    this.connections = 0;
  }

  add(socket) {
    this.connections++;
    socket.once('close', () => {
      if (--this.connections === 0) this.emit('empty');
    });
  }

  onInternal(msg) {
    const core = this.core;
    if (msg.cmd === 'NODE_SOCKET_NOTIFY_CLOSE') {
      const reply = () => {
        if (core.connected) core.sendInternal({ cmd: 'NODE_SOCKET_ALL_CLOSED', key: this.key }, true);
      };
      if (this.connections === 0) reply();
      else this.once('empty', reply);
    } else if (msg.cmd === 'NODE_SOCKET_GET_COUNT') {
      if (core.connected) {
        core.sendInternal({ cmd: 'NODE_SOCKET_COUNT', key: this.key, count: this.connections }, false);
      }
    }
  }
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

class ChannelCore {
  constructor(target, pipe, mode, { maxMessageSize }) {
    this.target = target;
    this.pipe = pipe;
    this.mode = mode;
    this.parser = createParser(mode, maxMessageSize);
    this.sinkBound = (kind, value) => this.onParsed(kind, value);
    this.control = new Control(pipe);

    this.connected = true;     // false as soon as disconnect is requested
    this.finished = false;     // channel torn down, 'disconnect' queued
    this.disconnectWhenIdle = false;
    this.pipeClosed = false;
    this.onPipeClosed = null;  // hooks for the fork wrapper
    this.onDisconnectEmitted = null;

    // Plain messages sent while a write is pending go out in one write (see _send).
    this.batch = null;         // payloads waiting behind a pending write (a Batch)
    this.batchCallbacks = null; // [counted length at the message's end, callback, ...]
    this.batchCallbacksTaken = 0; // how far batchCallbacks was handed to writes
    this.nextTryFlush = 0;     // the batch's counted length at which send() next tries to write
    this.asyncWrites = 0;      // writes waiting in the native queue
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

    this.deliveries = [];      // ordered events waiting to be emitted
    this.unclaimed = [];       // 'message' events waiting for a listener
    this.pumpBound = () => this.pump();

    this.sendLists = new Map();
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
    this.target.on('newListener', (name) => {
      if (name === 'message' && this.unclaimed.length) process.nextTick(() => this.flushUnclaimed());
    });
  }

  // ---------------------------------------------------------------- reading

  onRead(arrayBuffer) {
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
    const chunk = Buffer.from(arrayBuffer, offset, nread);
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
      this.deliver('message', [message, undefined]);
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
    this.deliver('internalMessage', [message, undefined]);
    switch (message.cmd) {
      case 'NODE_HANDLE_ACK':
      case 'NODE_HANDLE_NACK':
        this.onAck(message.cmd === 'NODE_HANDLE_ACK');
        break;
      case 'NODE_SOCKET_NOTIFY_CLOSE':
      case 'NODE_SOCKET_GET_COUNT': {
        const list = this.recvLists.get(message.key);
        if (list) list.onInternal(message);
        else if (message.cmd === 'NODE_SOCKET_NOTIFY_CLOSE') {
          this.sendInternal({ cmd: 'NODE_SOCKET_ALL_CLOSED', key: message.key }, true);
        } else {
          this.sendInternal({ cmd: 'NODE_SOCKET_COUNT', key: message.key, count: 0 }, true);
        }
        break;
      }
      case 'NODE_SOCKET_ALL_CLOSED':
      case 'NODE_SOCKET_COUNT':
        for (const waiter of [...this.replyWaiters]) waiter(message);
        break;
      default:
        break;
    }
  }

  onHandleMessage(message, handle) {
    if (!handle) {
      this.sendInternal({ cmd: 'NODE_HANDLE_NACK' }, true);
      return;
    }
    if (!isRawHandle(handle) && handle.type === 'UNSUPPORTED') {
      // Our binding already closed an fd it cannot wrap (a file, a FIFO...).
      this.sendInternal({ cmd: 'NODE_HANDLE_NACK' }, true);
      this.fault(errors.badHandle(`fd of unsupported type for '${message.type}'`));
      return;
    }
    this.sendInternal({ cmd: 'NODE_HANDLE_ACK' }, true);

    const slot = this.reserve(isInternal(message.msg) ? 'internalMessage' : 'message');
    const done = (err, converted) => {
      if (err) {
        closeRaw(handle);
        this.fault(errors.badHandle(err.message));
        this.cancel(slot);
        return;
      }
      this.fill(slot, [message.msg, converted]);
    };
    try {
      this.convertReceived(message, handle, done);
    } catch (err) {
      done(err);
    }
  }

  // Turn a received raw handle into what the sender's message type asks for.
  convertReceived(message, handle, done) {
    const conversion = Object.hasOwn(handleConversion, message.type) ? handleConversion[message.type] : null;
    if (conversion === null) throw new Error(`unknown handle type ${JSON.stringify(message.type)}`);
    conversion.got(this, message, handle, done);
  }

  trackReceivedSocket(message, socket) {
    if (message.key === undefined) return;
    let list = this.recvLists.get(message.key);
    if (!list) {
      list = new SocketListReceive(this, message.key);
      this.recvLists.set(message.key, list);
    }
    list.add(socket);
  }

  // ---------------------------------------------------------------- delivery
  // Events are emitted in arrival order, one per tick, even when a handle
  // conversion (server.listen) completes later.

  reserve(event) {
    const slot = { event, args: null, ready: false, cancelled: false };
    this.deliveries.push(slot);
    return slot;
  }

  fill(slot, args) {
    slot.args = args;
    slot.ready = true;
    process.nextTick(this.pumpBound);
  }

  cancel(slot) {
    slot.cancelled = true;
    slot.ready = true;
    process.nextTick(this.pumpBound);
  }

  deliver(event, args) {
    this.fill(this.reserve(event), args);
  }

  pump() {
    const slot = this.deliveries[0];
    if (!slot || !slot.ready) return;
    this.deliveries.shift();
    if (this.deliveries.length && this.deliveries[0].ready) process.nextTick(this.pumpBound);
    if (slot.cancelled) return;
    const target = this.target;
    switch (slot.event) {
      case 'message':
        if (target.listenerCount('message') === 0 || this.unclaimed.length) {
          this.unclaimed.push(slot.args);
          this.flushUnclaimed();
        } else {
          target.emit('message', ...slot.args);
        }
        break;
      case 'error':
        if (target.listenerCount('error') > 0) {
          target.emit('error', slot.args[0]);
        } else {
          // A peer must not be able to crash us: warn instead of throwing.
          process.emitWarning(slot.args[0]);
        }
        break;
      case 'disconnect':
        target.emit('disconnect');
        if (this.onDisconnectEmitted) this.onDisconnectEmitted();
        break;
      default:
        target.emit(slot.event, ...slot.args);
    }
  }

  flushUnclaimed() {
    while (this.unclaimed.length && this.target.listenerCount('message') > 0) {
      this.target.emit('message', ...this.unclaimed.shift());
    }
  }

  fault(err) {
    this.deliver('error', [err]);
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

    const ex = errors.channelClosed();
    if (typeof callback === 'function') process.nextTick(callback, ex);
    else process.nextTick(() => this.target.emit('error', ex));
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

    if (handle) {
      const type = handleTypeOf(handle);
      if (!type) throw codes.ERR_INVALID_HANDLE_TYPE();
      if (this.handleQueue) {
        this.handleQueue.push({ message, handle, options, callback });
        return this.handleQueue.length === 1;
      }
      return this.sendWithHandle(message, handle, type, options, callback);
    }

    const isAckNack = message !== null && t === 'object' &&
      (message.cmd === 'NODE_HANDLE_ACK' || message.cmd === 'NODE_HANDLE_NACK');
    if (this.handleQueue && !isAckNack) {
      const payload = encode(this.mode, message); // throws here, not when flushed
      // Keep order: nothing overtakes a handle that is not acknowledged yet.
      this.handleQueue.push({ message, handle: null, options, callback, payload });
      return this.handleQueue.length === 1;
    }

    if (this.batch === null && this.asyncWrites === 0) {
      this.write(encode(this.mode, message), null, options, callback);
    } else {
      // Behind a pending write: encoded straight into the batch (throws
      // here too, leaving the batch as it was).
      if (this.batch === null) {
        this.batch = new Batch();
        this.batchCallbacks = [];
        this.batchCallbacksTaken = 0;
        this.nextTryFlush = WRITE_PIECE;
      }
      this.batch.addMessage(this.mode, message);
      if (typeof callback === 'function') this.batchCallbacks.push(this.batch.counted, callback);
      // A send() loop can queue far more than one loop turn: once a write's
      // worth is waiting, let the socket take what the peer has read
      // meanwhile, and go on with the batch if the native queue emptied,
      // so the peer works while this loop runs (not only after it).
      // One try per write's worth added, not one per message.
      const batch = this.batch;
      if (batch.counted >= this.nextTryFlush && this.pipe.tryFlush !== undefined) {
        this.nextTryFlush = batch.counted + WRITE_PIECE;
        if (this.pipe.tryFlush() === 0) this.flushBatch();
      }
    }
    return this.queuedBytes() + (this.batch === null ? 0 : this.batch.length) < WRITE_QUEUE_HIGH_WATER;
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
  // coalesced (see _send): Node would queue each of them behind that write
  // too, and such queued writes always complete with callback(null) in Node.
  // They go out when the pending one completes (or earlier, before anything
  // that must not overtake them: a handle send, a disconnect).
  //
  // flushBatch writes what the batch holds: with `all`, everything now (before a
  // handle, a disconnect or close: nothing may overtake it); else about one
  // write's worth (WRITE_PIECE) at a time, the next when that one is done,
  // so a long burst is encoded into reused memory as the peer takes it.
  flushBatch(all = false) {
    while (this.batch !== null) {
      const batch = this.batch;
      if (this.finished) {
        const cbs = this.batchCallbacks;
        this.batch = null;
        this.batchCallbacks = null;
        for (let i = this.batchCallbacksTaken + 1; i < cbs.length; i += 2) process.nextTick(cbs[i], errors.channelClosed());
        return;
      }
      const taken = batch.take(all ? Infinity : WRITE_PIECE);
      const callbacks = this.writtenCallbacks(taken === null ? Infinity : taken.end);
      if (batch.empty) {
        this.batch = null;
        this.batchCallbacks = null;
      }
      if (taken === null) {
        for (const cb of callbacks) process.nextTick(cb, null);
        continue;
      }
      let chunk = taken.chunk;
      const done = () => {
        recycleChunk(chunk);
        chunk = null;
        for (const cb of callbacks) cb(null);
      };
      // Queued messages, in Node's terms: no error is reported for them.
      const err = this.write(taken.payload, null, SWALLOW_ERRORS, done);
      const wasAsync = err === 0 && streamBaseState[kLastWriteWasAsync] !== 0;
      if (!wasAsync) {
        recycleChunk(chunk); // the kernel has the bytes (or they were dropped)
        chunk = null;
      }
      if (err !== 0) process.nextTick(done);
      else if (wasAsync && !all) return; // its completion writes the next piece
    }
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
      if (ok) {
        if (pending.closeAfterAck) closeRaw(pending.raw);
        this.awaitingAck = null;
      } else if (pending.retransmissions < MAX_HANDLE_RETRANSMISSIONS) {
        pending.retransmissions++;
        const err = this.write(pending.payload, pending.raw, SWALLOW_ERRORS, undefined);
        if (err === 0) return; // still waiting; the queue stays queued
        this.awaitingAck = null;
        if (pending.closeAfterAck) closeRaw(pending.raw);
      } else {
        this.awaitingAck = null;
        if (pending.closeAfterAck) closeRaw(pending.raw);
        process.emitWarning('Handle did not reach the receiving process correctly',
                            'SentHandleNotReceivedWarning');
      }
    }
    if (!this.handleQueue) return;
    const queue = this.handleQueue;
    this.handleQueue = null;
    for (const q of queue) {
      if (this.finished) {
        if (typeof q.callback === 'function') process.nextTick(q.callback, errors.channelClosed());
      } else if (!q.handle) {
        if (this.handleQueue) this.handleQueue.push(q); // behind a handle sent just now
        else this.write(q.payload, null, q.options, q.callback);
      } else {
        try {
          this._send(q.message, q.handle, q.options, q.callback);
        } catch (err) {
          // Serializing a queued handle message failed: report, don't throw
          // out of the read callback.
          if (typeof q.callback === 'function') process.nextTick(q.callback, err);
          else process.nextTick(() => this.target.emit('error', err));
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
    const wasAsync = streamBaseState[kLastWriteWasAsync];
    if (err === 0) {
      if (wasAsync) {
        req.buffer = payload; // keep the bytes alive until written
        this.control.refCounted();
        this.asyncWrites++;
        req.oncomplete = () => {
          // As Node's channel: a write that went asynchronous completes
          // with callback(null) whatever its status; a broken channel shows
          // as 'disconnect'. Messages queued behind it go out now.
          this.asyncWrites--;
          this.control.unrefCounted();
          if (typeof callback === 'function') callback(null);
          this.flushBatch();
        };
      } else if (typeof callback === 'function') {
        process.nextTick(callback, null);
      }
    } else if (!options.swallowErrors) {
      const ex = errnoException(err, 'write');
      if (typeof callback === 'function') process.nextTick(callback, ex);
      else process.nextTick(() => this.target.emit('error', ex));
    }
    return err;
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
      this.target.emit('error', errors.disconnected());
      return;
    }
    this.connected = false;
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
    const pipe = this.pipe;
    pipe.onread = noop;
    if (typeof pipe.readStop === 'function') pipe.readStop();
    pipe.close(() => {
      this.pipeClosed = true;
      if (this.onPipeClosed) this.onPipeClosed();
    });
    closeRaw(this.recvHandle);
    this.recvHandle = null;
    if (this.awaitingAck) {
      if (this.awaitingAck.closeAfterAck) closeRaw(this.awaitingAck.raw);
      this.awaitingAck = null;
    }
    if (this.handleQueue) {
      for (const q of this.handleQueue) {
        if (typeof q.callback === 'function') process.nextTick(q.callback, errors.channelClosed());
      }
      this.handleQueue = null;
    }
    for (const onClose of [...this.closeWaiters]) onClose();
    this.closeWaiters.clear();
    this.replyWaiters.clear();
    for (const list of this.sendLists.values()) list.emit('exit', list);
    this.deliver('disconnect', []);
  }
}

// ------------------------------------------------------------------ openChannel

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

class IPCChannel extends EventEmitter {
  constructor() {
    super();
    this[kCore] = null;
    defineChannelAlias(this);
  }

  get connected() {
    return this[kCore].connected;
  }

  get channel() {
    return this[kCore].finished ? null : this[kCore].control;
  }

  get fd() {
    return this[kCore].finished ? undefined : this[kCore].control.fd;
  }

  send(message, handle, options, callback) {
    return this[kCore].send(message, handle, options, callback);
  }

  disconnect() {
    this[kCore].disconnect();
  }

  ref() {
    this[kCore].control.ref();
    return this;
  }

  unref() {
    this[kCore].control.unref();
    return this;
  }
}

function openChannel(fd, options) {
  if (!Number.isInteger(fd) || fd < 0) throw codes.ERR_INVALID_ARG_TYPE('fd', 'a non-negative integer', fd);
  if (options === undefined) options = {};
  else if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw codes.ERR_INVALID_ARG_TYPE('options', 'object', options);
  }
  options = { __proto__: null, ...options }; // nothing read through the prototype
  const mode = validateSerialization(options.serialization, 'options.serialization');
  const maxMessageSize = validateMaxMessageSize(options.maxMessageSize);

  const pipe = new Pipe(constants.IPC);
  const err = pipe.open(fd);
  if (err) {
    pipe.close();
    throw errnoException(err, 'open');
  }
  pipe.unref();

  const target = new IPCChannel();
  const core = new ChannelCore(target, pipe, mode, { maxMessageSize });
  target[kCore] = core;
  // Like a forked Node child: the channel keeps the process alive only while
  // someone listens for 'message'/'disconnect' or a write is in flight.
  target.on('newListener', (name) => {
    if (name === 'message' || name === 'disconnect') core.control.refCounted();
  });
  target.on('removeListener', (name) => {
    if (name === 'message' || name === 'disconnect') core.control.unrefCounted();
  });
  core.start();
  return target;
}

// ------------------------------------------------------------------ fork

class ChildProcessIPC extends EventEmitter {
  constructor(cp) {
    super();
    this._cp = cp;
    this[kCore] = null;
    defineChannelAlias(this);
  }

  get pid() { return this._cp.pid; }
  get stdin() { return this._cp.stdin; }
  get stdout() { return this._cp.stdout; }
  get stderr() { return this._cp.stderr; }
  get stdio() { return this._cp.stdio; }
  get exitCode() { return this._cp.exitCode; }
  get signalCode() { return this._cp.signalCode; }
  get killed() { return this._cp.killed; }
  get spawnfile() { return this._cp.spawnfile; }
  get spawnargs() { return this._cp.spawnargs; }
  get childProcess() { return this._cp; }

  get connected() {
    return this[kCore].connected;
  }

  get channel() {
    return this[kCore].finished ? null : this[kCore].control;
  }

  send(message, handle, options, callback) {
    return this[kCore].send(message, handle, options, callback);
  }

  disconnect() {
    this[kCore].disconnect();
  }

  kill(signal) {
    return this._cp.kill(signal);
  }

  ref() {
    this._cp.ref();
  }

  unref() {
    this._cp.unref();
  }

  [Symbol.dispose]() {
    if (!this.killed) this.kill();
  }
}

// options.stdio as Node's fork() reads it: a string names all three
// streams ('ignore', 'pipe', 'overlapped', 'inherit'; anything else is
// ERR_INVALID_ARG_VALUE), an array must hold exactly one 'ipc', and any
// other value means the default ('inherit', or 'pipe' when silent).
function buildStdio(options) {
  let stdio = options.stdio;
  if (typeof stdio === 'string') {
    switch (stdio) {
      case 'ignore': case 'pipe': case 'overlapped':
        return [stdio, stdio, stdio, 'ipc'];
      case 'inherit':
        return [0, 1, 2, 'ipc'];
      default:
        throw codes.ERR_INVALID_ARG_VALUE('stdio', stdio);
    }
  }
  if (!Array.isArray(stdio)) return options.silent ? ['pipe', 'pipe', 'pipe', 'ipc'] : [0, 1, 2, 'ipc'];
  stdio = [...stdio];
  const count = stdio.filter((s) => s === 'ipc').length;
  if (count === 0) throw codes.ERR_CHILD_PROCESS_IPC_REQUIRED('options.stdio');
  if (count > 1) throw codes.ERR_IPC_ONE_PIPE();
  return stdio;
}

// A path argument as Node's getValidatedPath takes it: a string, Buffer or
// file: URL, without null bytes.
function validatedPath(value, name) {
  if (value instanceof URL) value = require('url').fileURLToPath(value);
  else if (Buffer.isBuffer(value)) value = value.toString();
  if (typeof value !== 'string') throw codes.ERR_INVALID_ARG_TYPE(name, ['string', 'Buffer', 'URL'], value);
  if (value.includes('\u0000')) {
    throw codes.ERR_INVALID_ARG_VALUE(name, value, 'must be a string, Uint8Array, or URL without null bytes');
  }
  return value;
}

function fork(modulePath, args, options) {
  modulePath = validatedPath(modulePath, 'modulePath');
  if (args == null) {
    args = [];
  } else if (typeof args === 'object' && !Array.isArray(args)) {
    options = args;
    args = [];
  } else if (!Array.isArray(args)) {
    throw codes.ERR_INVALID_ARG_TYPE('args', 'Array', args);
  }
  if (options != null && (typeof options !== 'object' || Array.isArray(options))) {
    throw codes.ERR_INVALID_ARG_TYPE('options', 'object', options);
  }
  // Every option is read from the caller's own properties, never through
  // the prototype chain (Object.prototype.execPath must not pick the binary).
  options = { __proto__: null, ...options };

  const mode = validateSerialization(options.serialization, 'options.serialization');
  const maxMessageSize = validateMaxMessageSize(options.maxMessageSize);
  const stdio = buildStdio(options);
  const ipcIndex = stdio.indexOf('ipc');
  const execPath = options.execPath || process.execPath;
  if (typeof execPath === 'string' && execPath.includes('\u0000')) {
    throw codes.ERR_INVALID_ARG_VALUE('options.execPath', execPath, 'must be a string without null bytes');
  }
  let execArgv = options.execArgv || process.execArgv;
  if (!Array.isArray(execArgv)) throw codes.ERR_INVALID_ARG_TYPE('options.execArgv', 'Array', execArgv);
  if (execArgv === process.execArgv && process._eval != null) {
    // Like Node: a parent run with -e/-p must not fork itself running its
    // own eval string again.
    const i = execArgv.lastIndexOf(process._eval);
    if (i > 0) execArgv = [...execArgv.slice(0, i - 1), ...execArgv.slice(i + 1)];
  }

  const { socketpair } = binding.native;
  if (typeof socketpair !== 'function') {
    throw codes.ERR_PIPEWRAP_NO_SOCKETPAIR();
  }
  const [parentFd, childFd] = socketpair();

  const pipe = new Pipe(constants.IPC);
  let err = pipe.open(parentFd);
  if (err) {
    pipe.close();
    binding.native.closeFd(parentFd); // not adopted: EBADF at worst
    binding.native.closeFd(childFd);
    throw errnoException(err, 'open');
  }

  stdio[ipcIndex] = childFd;
  // Copied as Node's spawn reads it: every enumerable key, inherited ones
  // included (Node does so on purpose, e.g. for Object.create(process.env)).
  const sourceEnv = options.env || process.env;
  const env = {};
  for (const key in sourceEnv) env[key] = sourceEnv[key];
  env.NODE_CHANNEL_FD = String(ipcIndex);
  env.NODE_CHANNEL_SERIALIZATION_MODE = mode;

  const spawnOptions = { __proto__: null, ...options, stdio, env, shell: false };
  delete spawnOptions.serialization;
  delete spawnOptions.silent;
  delete spawnOptions.execPath;
  delete spawnOptions.execArgv;
  delete spawnOptions.maxMessageSize;

  let cp;
  try {
    cp = childProcess.spawn(execPath, [...execArgv, modulePath, ...args], spawnOptions);
  } catch (e) {
    pipe.close();
    binding.native.closeFd(childFd);
    throw e;
  } finally {
    // The child has its own copy now (or failed to start). Ours must go so
    // the parent sees EOF when the child dies.
    // (Closed natively: fs warns about fds it did not open in workers.)
    if (cp) binding.native.closeFd(childFd);
  }

  const child = new ChildProcessIPC(cp);
  const core = new ChannelCore(child, pipe, mode, { maxMessageSize });
  child[kCore] = core;

  // Event ordering: 'disconnect' before 'exit' before 'close'.
  let exitArgs = null;
  let exitEmitted = false;
  let disconnectEmitted = false;
  let cpClosed = false;
  let closeEmitted = false;
  let exitTimer = null;

  const maybeClose = () => {
    if (closeEmitted || !cpClosed || !core.pipeClosed) return;
    if (exitArgs && !exitEmitted) return;
    closeEmitted = true;
    child.emit('close', cp.exitCode, cp.signalCode);
  };
  const emitExit = () => {
    if (exitEmitted) return;
    exitEmitted = true;
    if (exitTimer) clearTimeout(exitTimer);
    child.emit('exit', exitArgs[0], exitArgs[1]);
    maybeClose();
  };
  core.onDisconnectEmitted = () => {
    disconnectEmitted = true;
    if (exitArgs) process.nextTick(emitExit);
  };
  core.onPipeClosed = maybeClose;

  cp.on('spawn', () => child.emit('spawn'));
  cp.on('error', (e) => child.emit('error', e));
  cp.on('exit', (code, signal) => {
    exitArgs = [code, signal];
    if (disconnectEmitted) {
      emitExit();
      return;
    }
    // The dead child's end of the socketpair is closed by the kernel before
    // SIGCHLD, so EOF is (almost always) already readable. If a grandchild
    // inherited the channel, EOF never comes: don't hold 'exit' forever.
    exitTimer = setTimeout(emitExit, 1000);
    exitTimer.unref();
  });
  cp.on('close', () => {
    cpClosed = true;
    maybeClose();
  });

  core.start();
  return child;
}

module.exports = { fork, openChannel, IPCChannel, ChildProcessIPC };
