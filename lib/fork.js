'use strict';
// fork(): child_process.fork() with a pipewrap channel. The child end of a
// socketpair() becomes stdio entry N ('ipc' in options.stdio, default 3),
// announced as NODE_CHANNEL_FD=N, so a plain Node child just uses
// process.send. The child is spawned with child_process.spawn, and the
// channel is installed on the very ChildProcess spawn returned, as Node's
// setupChannel does: the object is Node's own (instanceof ChildProcess;
// pid, killed, kill(), ref()... are Node's) with send(), disconnect(),
// connected, channel and the channel's events.
//
// Differences from Node, on purpose: 'exit' is emitted after 'disconnect'
// (see orderExitAndClose), and options are read from the caller's own
// properties only.

const childProcess = require('child_process');
const binding = require('./binding');
const { codes, errnoException } = require('./errors');
const { ChannelCore, validateSerialization, validateMaxMessageSize, defineChannelAlias } = require('./ipc-channel');

const { Pipe, constants } = binding;

// How long a dead child's 'exit' waits, once its channel has gone quiet,
// for the channel's EOF: the kernel can release the child's end a little
// after the exit is reported (seen once in CI under load, on Node 24). A
// grandchild that inherited the channel keeps it open for longer; 'exit'
// then goes first, this much later than Node's.
const EXIT_WAITS_FOR_EOF_MS = 500;

// ------------------------------------------------------------------ options

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

// fork(modulePath[, args][, options]) as Node reads its arguments. Every
// option is read from the caller's own properties, never through the
// prototype chain (Object.prototype.execPath must not pick the binary).
function forkArguments(modulePath, args, options) {
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
  return { modulePath, args, options: { __proto__: null, ...options } };
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

function validatedExecPath(options) {
  const execPath = options.execPath || process.execPath;
  if (typeof execPath === 'string' && execPath.includes('\u0000')) {
    throw codes.ERR_INVALID_ARG_VALUE('options.execPath', execPath, 'must be a string without null bytes');
  }
  return execPath;
}

function validatedExecArgv(options) {
  let execArgv = options.execArgv || process.execArgv;
  if (!Array.isArray(execArgv)) throw codes.ERR_INVALID_ARG_TYPE('options.execArgv', 'Array', execArgv);
  if (execArgv === process.execArgv && process._eval != null) {
    // Like Node: a parent run with -e/-p must not fork itself running its
    // own eval string again.
    const i = execArgv.lastIndexOf(process._eval);
    if (i > 0) execArgv = [...execArgv.slice(0, i - 1), ...execArgv.slice(i + 1)];
  }
  return execArgv;
}

// spawn()'s options: the caller's, with the channel's stdio and environment.
function spawnOptions(options, stdio, ipcIndex, mode) {
  // Copied as Node's spawn reads it: every enumerable key, inherited ones
  // included (Node does so on purpose, e.g. for Object.create(process.env)).
  const sourceEnv = options.env || process.env;
  const env = {};
  for (const key in sourceEnv) env[key] = sourceEnv[key];
  env.NODE_CHANNEL_FD = String(ipcIndex);
  env.NODE_CHANNEL_SERIALIZATION_MODE = mode;

  const spawnOpts = { __proto__: null, ...options, stdio, env, shell: false };
  delete spawnOpts.serialization;
  delete spawnOpts.silent;
  delete spawnOpts.execPath;
  delete spawnOpts.execArgv;
  delete spawnOpts.maxMessageSize;
  return spawnOpts;
}

// ------------------------------------------------------------------ spawning

// The channel's two ends: our Pipe(IPC) and the fd the child inherits.
function channelPair() {
  const { socketpair } = binding.native;
  if (typeof socketpair !== 'function') {
    throw codes.ERR_PIPEWRAP_NO_SOCKETPAIR();
  }
  const [parentFd, childFd] = socketpair();
  const pipe = new Pipe(constants.IPC);
  const err = pipe.open(parentFd);
  if (err) {
    pipe.close();
    binding.native.closeFd(parentFd); // not adopted: EBADF at worst
    binding.native.closeFd(childFd);
    throw errnoException(err, 'open');
  }
  return { pipe, childFd };
}

function spawnChild(file, args, options, pipe, childFd) {
  let child;
  try {
    child = childProcess.spawn(file, args, options);
  } catch (e) {
    pipe.close();
    binding.native.closeFd(childFd);
    throw e;
  }
  // The child has its own copy now (or failed to start). Ours must go so
  // the parent sees EOF when the child dies.
  // (Closed natively: fs warns about fds it did not open in workers.)
  binding.native.closeFd(childFd);
  return child;
}

function fork(modulePath, args, options) {
  ({ modulePath, args, options } = forkArguments(modulePath, args, options));
  const mode = validateSerialization(options.serialization, 'options.serialization');
  const maxMessageSize = validateMaxMessageSize(options.maxMessageSize);
  const stdio = buildStdio(options);
  const ipcIndex = stdio.indexOf('ipc');
  const execPath = validatedExecPath(options);
  const execArgv = validatedExecArgv(options);

  const { pipe, childFd } = channelPair();
  stdio[ipcIndex] = childFd;
  const child = spawnChild(execPath, [...execArgv, modulePath, ...args],
                           spawnOptions(options, stdio, ipcIndex, mode), pipe, childFd);
  // Both ends of the channel were made here, so libuv on Windows cannot ask
  // the kernel for the peer (it needs the pid to send a socket there). If
  // it cannot be told, handle sends are refused rather than exported to the
  // wrong process.
  let handleSendRefused = null;
  if (process.platform === 'win32' && child.pid && pipe.setPeerPid(child.pid) !== 0) {
    handleSendRefused = 'sending handles over this channel (libuv could not be told the child\'s pid)';
  }
  setupChannel(child, pipe, mode, { maxMessageSize, handleSendRefused });
  return child;
}

// ------------------------------------------------------------------ the channel on the ChildProcess

// Install the channel on `child` as Node's setupChannel does: own, writable
// `connected`, `channel`, `send` and `disconnect`, the `_channel` alias, and
// the channel's events emitted on the child itself. Node's own ref()/unref()
// stay as they are: they (un)ref the process, not the channel.
function setupChannel(child, pipe, mode, options) {
  const core = new ChannelCore(child, pipe, mode, options);
  child.connected = true;
  child.channel = core.control;
  defineChannelAlias(child);
  child.send = function send(message, handle, sendOptions, callback) {
    return core.send(message, handle, sendOptions, callback);
  };
  child.disconnect = function disconnect() {
    core.disconnect();
  };
  core.onStateChange = () => {
    child.connected = core.connected;
    if (core.finished) child.channel = null;
  };
  orderExitAndClose(child, core);
  core.start();
}

// Events come in the order 'disconnect', 'exit', 'close'. Node's
// ChildProcess emits 'exit' from its process handle's exit callback and
// 'close' once the stdio streams are closed; both go through `emit`, which
// an own (non-enumerable) emit holds until it is their turn: 'exit' until
// 'disconnect' was emitted, 'close' until 'exit' was emitted and the
// channel's pipe is closed. Node's state (exitCode, signalCode, killed) is
// set when the process ends, as usual; only the events wait. The dead
// child's end of the socketpair is closed by the kernel before SIGCHLD, so
// what it sent and then EOF are already readable: 'exit' waits while the
// channel keeps delivering, and goes out after a poll phase that read
// nothing, and once EXIT_WAITS_FOR_EOF_MS have passed since the exit (EOF
// may still be on its way: see there). If a grandchild inherited the
// channel, EOF comes only when it exits: then 'exit' goes first and
// 'disconnect' later, as in Node. The time is a floor, never a cut-off: a
// slow machine that is still reading only makes each step slower. The held
// events are emitted through child.emit (a wrapper a library put there
// sees them); once 'close' is out the own emit is removed.
function orderExitAndClose(child, core) {
  const emit = child.emit;
  // close: null (not yet), 'held' (Node emitted it; ours waits) or 'emitted'.
  const state = { exit: null, exitAt: 0, exitEmitted: false, close: null, disconnected: false, eofTimer: null };

  const maybeClose = () => {
    if (state.close !== 'held' || !core.pipeClosed || (state.exit !== null && !state.exitEmitted)) return;
    state.close = 'emitted';
    if (child.emit === heldEmit) delete child.emit;
    child.emit('close', child.exitCode, child.signalCode);
  };
  const emitExit = () => {
    if (state.exitEmitted) return;
    state.exitEmitted = true;
    if (state.eofTimer !== null) clearTimeout(state.eofTimer);
    child.emit('exit', state.exit[0], state.exit[1]); // passes heldEmit now
    maybeClose();
  };
  const onExit = (code, signal) => {
    state.exit = [code, signal];
    state.exitAt = performance.now();
    if (state.disconnected) {
      emitExit();
      return;
    }
    emitExitWhenQuiet();
  };
  // Two immediates put a poll phase between them: if the channel read
  // nothing in it (and EOF did not come), everything the child sent is in.
  // Then the EOF gets what is left of its time (a timer: the release it
  // waits for is the kernel's, not this loop's).
  const emitExitWhenQuiet = () => {
    state.eofTimer = null;
    const reads = core.reads;
    setImmediate(() => setImmediate(() => {
      if (state.exitEmitted || state.disconnected) return;
      if (core.reads !== reads) return emitExitWhenQuiet();
      const left = EXIT_WAITS_FOR_EOF_MS - (performance.now() - state.exitAt);
      if (left <= 0) return emitExit();
      state.eofTimer = setTimeout(emitExitWhenQuiet, left);
    }));
  };
  function heldEmit(event) {
    if (event === 'exit' && state.exit === null) {
      onExit(arguments[1], arguments[2]);
      return this.listenerCount('exit') > 0;
    }
    if (event === 'close' && state.close === null) {
      state.close = 'held';
      maybeClose();
      return this.listenerCount('close') > 0;
    }
    return emit.apply(this, arguments);
  }

  core.events.onDisconnect = () => {
    state.disconnected = true;
    if (state.exit !== null) process.nextTick(emitExit);
  };
  core.onPipeClosed = maybeClose;
  Object.defineProperty(child, 'emit', { value: heldEmit, writable: true, configurable: true, enumerable: false });
}

module.exports = { fork };
