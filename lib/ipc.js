'use strict';
// The fork IPC channel over a pipewrap Pipe(IPC): fork() and openChannel().
//
//   fork(modulePath[, args][, options]) -> ChildProcess
//     child_process.fork() with a pipewrap channel (lib/fork.js): Node's
//     own ChildProcess, with the channel installed on it. Options as for
//     fork (cwd, env, execPath, execArgv, silent, stdio, serialization,
//     ...) plus maxMessageSize.
//   openChannel(fd[, { serialization, maxMessageSize }]) -> IPCChannel
//     The same channel on an inherited fd, for a child whose Node runtime
//     did not open it. Referenced only while it has 'message'/'disconnect'
//     listeners or writes in flight (ref()/unref() override that).
//
// The modules behind them, leaves first:
//   ipc-serialization.js  the wire formats (parsers, encoders, batches)
//   ipc-socket-list.js    the socket-list commands of net.Server
//   ipc-handles.js        what can be sent and what a received handle becomes
//   ipc-delivery.js       events to the target, in arrival order
//   ipc-channel.js        ChannelCore: reading, sending, handle ACKs, closing
//   fork.js               fork() and its setupChannel on the ChildProcess
//
// Differences from Node, on purpose: a malformed message, a received fd of an
// unsupported type and an oversized message are reported as 'error' events
// (or, with no 'error' listener, process warnings) instead of crashing the
// process; 'exit' of a forked child is emitted after its 'disconnect'; a
// NACKed net.Server is retransmitted like a socket; a socket handed over
// stops being read here at once (Node keeps reading it until the ACK and
// drops what it reads).

const EventEmitter = require('events');
const { Pipe, constants } = require('./binding');
const { codes, errnoException } = require('./errors');
const { ChannelCore, validateSerialization, validateMaxMessageSize, defineChannelAlias } = require('./ipc-channel');
const { fork } = require('./fork');

const kCore = Symbol('pipewrap.ipc.core');

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

module.exports = { fork, openChannel, IPCChannel };
