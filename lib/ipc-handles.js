'use strict';
// Handles over the IPC channel: what can be sent, how it goes out and what a
// received one becomes. The model is Node's handleConversion table in
// internal/child_process: one entry per wire type ('net.Native',
// 'net.Server', 'net.Socket', 'dgram.Native', 'dgram.Socket').
//
// A received raw handle is what the binding made of the fd: a Pipe for a
// Unix socket, or a { type: 'TCP' | 'UDP' | 'UNSUPPORTED', fd } descriptor
// we own (Node's own TCP/UDP wraps under PIPEWRAP_BINDING=node).

const net = require('net');
const dgram = require('dgram');
const binding = require('./binding');
const { errnoException } = require('./errors');
const { sendListFor, trackReceivedSocket } = require('./ipc-socket-list');

const { Pipe } = binding;
const noop = () => {};

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

// A received raw handle of a type our binding could not wrap (a file, a
// FIFO...): the binding already closed its fd.
function isUnsupported(handle) {
  return !isRawHandle(handle) && handle.type === 'UNSUPPORTED';
}

// What a received raw handle is: 'PIPE', 'TCP' or 'UDP'.
function describeRaw(handle) {
  if (isRawHandle(handle) || isNodeUDP(handle)) {
    if (isNodeTCP(handle)) return 'TCP';
    if (isNodeUDP(handle)) return 'UDP';
    return 'PIPE';
  }
  return handle.type; // 'TCP' | 'UDP'
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

// ------------------------------------------------------------------ helpers

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

function refuse(kind, type) {
  throw new Error(`a ${kind} socket cannot arrive as '${type}'`);
}

// A descriptor's fd handed to Node: it owns (and on failure closes) it now.
function takeFd(handle) {
  const fd = handle.fd;
  handle.fd = -1;
  return fd;
}

// A descriptor's fd opened by a new wrap of Node's (TCP or UDP), which owns it then.
function adoptFd(wrap, handle) {
  const err = wrap.open(handle.fd);
  if (err) throw errnoException(err, 'open');
  handle.fd = -1;
  return wrap;
}

// A socket handed over (sent without keepOpen): the server that accepted it
// no longer counts it, it stops being read here so the receiver gets every
// byte, and it forgets its handle.
function handOver(socket, raw, wire) {
  const owner = socket._server;
  if (wire.key === undefined && owner && typeof owner._connections === 'number') {
    // Accepted by a pipewrap Server (no worker protocol): it no longer
    // counts the socket, so close() does not wait for it.
    owner._connections--;
    socket._server = null;
    if (typeof owner._emitCloseIfDrained === 'function') owner._emitCloseIfDrained();
  }
  if (typeof raw.readStop === 'function') raw.readStop();
  raw.reading = false;
  raw.onread = noop;
  socket._handle = null;
  if (typeof socket.setTimeout === 'function') socket.setTimeout(0);
  releaseHttpParser(socket);
}

// ------------------------------------------------------------------ handle conversion
// One entry per wire type, as Node's handleConversion: send(core, wire,
// handle) returns the raw handle to pass (null: send the bare message) and
// may add fields to the wire message, changing nothing else; commit(core,
// wire, handle, raw, options), if present, runs once the message is known to
// serialize and returns true when our copy of the fd is to be closed after
// the ACK; got(core, message, handle, done) turns a received raw handle into
// the object to emit and calls done(null, object) or done(err) (or throws).

const handleConversion = {
  'net.Native': {
    simultaneousAccepts: true, // Windows: set on a server before it goes
    send: (core, wire, handle) => handle,
    got(core, message, handle, done) {
      const kind = describeRaw(handle);
      if (kind === 'UDP') refuse(kind, message.type);
      if (kind === 'TCP' && !isNodeTCP(handle)) {
        const { TCP, TCPConstants } = getNodeWraps();
        if (!TCP) return done(null, handle);
        return done(null, adoptFd(new TCP(TCPConstants.SOCKET), handle));
      }
      done(null, handle);
    },
  },

  'net.Server': {
    simultaneousAccepts: true,
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
        sendListFor(core, wire.key, server);
        if (!options.keepOpen && typeof server._connections === 'number') server._connections--;
      }
      if (options.keepOpen) return false;
      handOver(socket, raw, wire);
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
      trackReceivedSocket(core, message, socket);
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
      done(null, adoptFd(new UDP(), handle));
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

// Turn a received raw handle into what the sender's message type asks for:
// done(null, object) or done(err) (or a throw).
function convertReceived(core, message, handle, done) {
  const conversion = Object.hasOwn(handleConversion, message.type) ? handleConversion[message.type] : null;
  if (conversion === null) throw new Error(`unknown handle type ${JSON.stringify(message.type)}`);
  conversion.got(core, message, handle, done);
}

module.exports = {
  handleConversion,
  handleTypeOf,
  convertReceived,
  isUnsupported,
  closeRaw,
};
