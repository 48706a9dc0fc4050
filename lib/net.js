'use strict';
// A net-style layer over the pipe binding: Unix domain sockets only.
//
// It mirrors what Node 20's lib/net.js does with process.binding('pipe_wrap')
// (see the reference notes, section 2) but is its own, thin implementation:
// `Socket` is a plain stream.Duplex (Node's http/tls wrap it as a JS stream)
// and `Server` is a plain EventEmitter. Only the binding's public contract is
// used, so the same code runs on Node's binding (PIPEWRAP_BINDING=node) and
// on pipewrap's native one.

const EventEmitter = require('events');
const fs = require('fs');
const stream = require('stream');
const { isUint8Array } = require('util').types;
const binding = require('./binding');
const errors = require('./errors');
const streamState = require('./stream-state');

// Brands that survive a second copy of this module (jest.resetModules(), two
// installed copies): the IPC layer recognises pipewrap sockets and servers
// by these, not only by `instanceof` its own copy's classes.
const kSocketBrand = Symbol.for('pipewrap.net.Socket');
const kServerBrand = Symbol.for('pipewrap.net.Server');

// Node's own net.Socket, for Node's own handles (see Socket). Not when
// net.Socket is already this module's (a second copy loaded after a
// program replaced it): such handles then get the error.
const NodeSocket = (() => {
  const { Socket: ctor } = require('net');
  return ctor.prototype[kSocketBrand] === true ? null : ctor;
})();

const { codes } = errors;

const {
  Pipe,
  PipeConnectWrap,
  WriteWrap,
  ShutdownWrap,
  streamBaseState,
  kReadBytesOrError,
  kArrayBufferOffset,
  kBytesWritten: kStateBytesWritten,
  kLastWriteWasAsync,
  constants: PipeConstants,
} = binding;

const UV_EOF = errors.uvCode('EOF');
const UV_EADDRINUSE = errors.uvCode('EADDRINUSE');
const UV_ECONNREFUSED = errors.uvCode('ECONNREFUSED');
const UV_ENAMETOOLONG = errors.uvCode('ENAMETOOLONG');
const UV_ENOTCONN = errors.uvCode('ENOTCONN');
const UV_EINVAL = errors.uvCode('EINVAL');

// sockaddr_un.sun_path is 108 bytes on Linux, 104 on macOS (crates/core
// sys::SUN_PATH_LEN). A filesystem path needs its terminating NUL inside it;
// an abstract name ('\0…', Linux only: elsewhere the addon says EINVAL, as
// Node does) does not.
const SUN_PATH_LEN = process.platform === 'darwin' ? 104 : 108;
const ABSTRACT_NAMES = process.platform === 'linux';
// On Windows a "path" is a named pipe (\\.\pipe\name, \\?\pipe\name):
// no sun_path limit, and the Unix-only extras (fd passing, abstract names,
// socket file modes, stale-file reclaim, uid/gid credentials) throw.
const IS_WINDOWS = process.platform === 'win32';

function unixOnly(feature) {
  return codes.ERR_FEATURE_UNAVAILABLE_ON_PLATFORM(`${feature} (Unix domain sockets only; Windows named pipes have none)`);
}

// The back-pointer from a binding handle to its Socket/Server (Node uses a
// private owner_symbol for this).
const kOwner = Symbol('pipewrap.owner');
const kTimeout = Symbol('pipewrap.timeout');
const kLastWriteQueueSize = Symbol('pipewrap.lastWriteQueueSize');
const kBytesRead = Symbol('pipewrap.bytesRead');
const kBytesWritten = Symbol('pipewrap.bytesWritten');
// A Buffer queued by sendFds() carries its fds under this key.
const kFds = Symbol('pipewrap.fds');
const kFdPassing = Symbol('pipewrap.fdPassing');
// Writes that bypassed the Writable queue and are still in the native queue.
const kDirectPending = Symbol('pipewrap.directPending');
// _final's callback, held while fast-path writes are still pending.
const kFinalAfterDirect = Symbol('pipewrap.finalAfterDirect');
const kDirectNeedDrain = Symbol('pipewrap.directNeedDrain');
const kDirectBytes = Symbol('pipewrap.directBytes');
// The pending tick that runs the callbacks of fast-path writes the kernel
// took at once (Writable's afterWriteTickInfo: { cb, count }).
const kAfterWriteTick = Symbol('pipewrap.afterWriteTick');
// A fast-path write has completed since destroy(): the one Node would have
// had in flight. The ones after it were queued behind it.
const kDirectInFlightDone = Symbol('pipewrap.directInFlightDone');
const kUserBuffer = Symbol('pipewrap.userBuffer');
const kUserBufferGen = Symbol('pipewrap.userBufferGen');
const kUserBufferCb = Symbol('pipewrap.userBufferCb');

function noop() {}

// A write that fails after destroy() (ECANCELED, as the handle closes):
// Node 20 completes it with null, Node 22 and later with the error (their
// onWriteComplete checks the status before `destroyed`), which Writable
// then also records as the stream's error for the writes queued behind it.
const DESTROYED_WRITES_SEE_ERRORS = Number(process.versions.node.split('.')[0]) >= 22;

// Errors, shaped like Node's internal/errors (lib/errors.js).

function errnoException(err, syscall, original) {
  return errors.errnoException(err, syscall, original, errnoException);
}

// "connect ENOENT /path", with `address` and no `port`.
function connectException(err, address, suffix = '') {
  return errors.exceptionWithHostPort(err, 'connect', address, suffix, connectException);
}

// "listen EADDRINUSE: address already in use /path", port -1.
function listenException(err, address, suffix = '') {
  return errors.uvExceptionWithHostPort(err, 'listen', address, suffix, listenException);
}

// ---------------------------------------------------------------------------
// Path validation. pipewrap never truncates silently (Node 20 does): an
// over-long path is an ENAMETOOLONG error before anything is created.

function validatePath(path, name) {
  if (typeof path !== 'string') throw codes.ERR_INVALID_ARG_TYPE(name, 'string', path);
  if (path.length === 0) throw codes.ERR_INVALID_ARG_VALUE(name, path, 'must be a non-empty string');
  // A leading NUL selects the Linux abstract namespace; any other NUL would
  // be silently cut off by the kernel, so reject it (as newer libuv does).
  if (path.indexOf('\0', 1) !== -1) {
    throw codes.ERR_INVALID_ARG_VALUE(name, path, 'must not contain null bytes (except a leading one for abstract names)');
  }
  if (IS_WINDOWS && path.charCodeAt(0) === 0) throw unixOnly('abstract socket names');
}

// Returns a suffix for the error message when `path` does not fit sun_path.
function pathTooLong(path) {
  if (IS_WINDOWS) return null;
  const bytes = Buffer.byteLength(path, 'utf8');
  const max = ABSTRACT_NAMES && path.charCodeAt(0) === 0 ? SUN_PATH_LEN : SUN_PATH_LEN - 1;
  if (bytes <= max) return null;
  return ` (a Unix socket path is limited to ${SUN_PATH_LEN} bytes including the terminating NUL,` +
    ` i.e. ${max} usable bytes; this one is ${bytes} bytes)`;
}

// ---------------------------------------------------------------------------
// Socket

// Writes corked chunks one at a time (used when some carry fds).
function writeSequentially(socket, chunks, cb) {
  let i = 0;
  const next = (err) => {
    if (err) return cb(err);
    if (i === chunks.length) return cb();
    const { chunk, encoding } = chunks[i++];
    socket._writeGeneric(false, chunk, encoding, next);
  };
  next();
}

// handle.onread, called with this = handle. Hot path: one Buffer view per
// read, nothing else allocated.
function onStreamRead(arrayBuffer) {
  const nread = streamBaseState[kReadBytesOrError];
  const socket = this[kOwner];
  if (socket[kTimeout] !== null) socket._unrefTimer();

  if (nread > 0) {
    if (this.pendingFds !== undefined) {
      // fdPassing: fds that arrived with this chunk, announced before it.
      const fds = this.pendingFds;
      this.pendingFds = undefined;
      if (socket.destroyed || socket.listenerCount('fds') === 0) {
        // Nobody can take ownership: close them rather than leak them.
        for (const fd of fds) binding.native.closeFd(fd);
        if (socket.destroyed) return;
      } else {
        socket.emit('fds', fds);
      }
    }
    if (socket.destroyed) return;
    if (socket[kUserBuffer] !== null) return userBufferRead(this, socket, nread);
    const buf = Buffer.from(arrayBuffer, streamBaseState[kArrayBufferOffset], nread);
    if (streamState.canEmitDataDirectly(socket)) {
      // Flowing with nothing buffered: hand the chunk straight to 'data'
      // listeners. push() would end up emitting the same event, after a trip
      // through the buffer bookkeeping and a maybeReadMore nextTick.
      streamState.emitDataDirectly(socket, buf);
      return;
    }
    if (!socket.push(buf)) {
      // Backpressure: stop the kernel reads until _read() asks again.
      this.reading = false;
      if (!socket.destroyed) {
        const err = this.readStop();
        if (err) socket.destroy(errnoException(err, 'read'));
      }
    }
    return;
  }
  if (nread === 0) return;
  if (nread !== UV_EOF) {
    socket.destroy(errnoException(nread, 'read'));
    return;
  }
  if (!streamState.endEmitted(socket)) {
    socket.push(null);
    socket.read(0);
  }
}

// A read into the onread option's buffer: its callback instead of 'data'
// (false stops reading, as push() returning false would); a generator's
// next buffer is returned to the binding, which reads into it from then on.
function userBufferRead(handle, socket, nread) {
  const more = socket[kUserBufferCb](nread, socket[kUserBuffer]) !== false;
  let next;
  const gen = socket[kUserBufferGen];
  if (gen !== null) {
    const buf = gen();
    if (isUint8Array(buf)) socket[kUserBuffer] = next = buf;
  }
  if (!more) {
    handle.reading = false;
    if (!socket.destroyed) {
      const err = handle.readStop();
      if (err) socket.destroy(errnoException(err, 'read'));
    }
  }
  return next;
}

// Node's http Agent (Node 22.23+ and 24) parks a kept-alive socket with
// `socket._handle.onread = freeSocketOnReadGuard` and, when the socket is
// reused, puts its own `onStreamRead` back. Both read state private to
// Node's own handles (its streamBaseState, its owner symbol), so on a
// pipewrap handle the next read threw. For handles of this layer's Sockets
// the two map to what they do here: the guard destroys the socket on any
// read that is not empty (unsolicited bytes on an idle connection would
// otherwise be taken as the next response), and Node's onStreamRead
// becomes this layer's. The getter answers with the function assigned, so
// the agent's `handle.onread === freeSocketOnReadGuard` check holds. Other
// functions, and handles no Socket of this layer owns, are untouched.
function onReadWhileParked() {
  if (streamBaseState[kReadBytesOrError] === 0) return;
  const socket = this[kOwner];
  if (socket !== undefined && !socket.destroyed) socket.destroy();
}

const kAssignedOnread = Symbol('pipewrap.assignedOnread');
// pipewrap's own Pipe, not Node's (PIPEWRAP_BINDING=node).
const OWN_PIPE = Object.hasOwn(Pipe.prototype, Symbol.for('pipewrap.Pipe'));

// Per copy of this layer: Pipe.prototype is shared by every copy (one class
// per thread), and each copy recognises only its own Sockets' handles.
function routeNodeOnreads(PipeClass) {
  if (!OWN_PIPE) return; // Node's own Pipe (PIPEWRAP_BINDING=node)
  const proto = PipeClass.prototype;
  const inner = Object.getOwnPropertyDescriptor(proto, 'onread');
  if (inner === undefined || typeof inner.set !== 'function') return;
  Object.defineProperty(proto, 'onread', {
    configurable: true,
    enumerable: inner.enumerable,
    get() {
      const assigned = this[kAssignedOnread];
      return assigned !== undefined ? assigned : inner.get.call(this);
    },
    set(fn) {
      if (this[kOwner] !== undefined && typeof fn === 'function' && fn !== onStreamRead && fn !== noop) {
        if (fn.name === 'freeSocketOnReadGuard') {
          this[kAssignedOnread] = fn;
          inner.set.call(this, onReadWhileParked);
          return;
        }
        if (fn.name === 'onStreamRead') fn = onStreamRead; // Node's own, put back by the agent
      }
      if (this[kAssignedOnread] !== undefined) this[kAssignedOnread] = undefined;
      inner.set.call(this, fn);
    },
  });
}
routeNodeOnreads(Pipe);

function afterConnect(status, handle, req, readable, writable) {
  const self = handle[kOwner];
  // The completion may come after destroy() (e.g. ECANCELED on close).
  if (self === undefined || self.destroyed || self._handle !== handle) return;
  self.connecting = false;

  if (status === 0) {
    if (self.readable && !readable) {
      self.push(null);
      self.read();
    }
    if (self.writable && !writable) self.end();
    self._unrefTimer();
    self.emit('connect');
    self.emit('ready');
    // Start the first read (or get an immediate EOF); consumes nothing.
    if (readable && !self.isPaused()) self.read(0);
  } else {
    const ex = connectException(status, req.address);
    self.emit('connectionAttemptFailed', req.address, undefined, undefined, ex);
    self.destroy(ex);
  }
}

// WriteWrap.oncomplete for writes that went async; this = req.
function onWriteComplete(status) {
  const socket = this.handle[kOwner];
  const cb = this.callback;
  if (status < 0 && (DESTROYED_WRITES_SEE_ERRORS || !socket.destroyed)) {
    cb(errnoException(status, 'write', this.error));
    return;
  }
  if (socket.destroyed) {
    cb(null);
    return;
  }
  socket[kLastWriteQueueSize] = 0;
  socket._unrefTimer();
  cb(null);
}

// Completion of a fast-path write() that went asynchronous. What its
// callback sees is what Writable would give it: Node has one write in
// flight and queues the rest, which these writes model in the native
// queue, oldest first.
function onDirectWriteComplete(status) {
  const socket = this.socket;
  const cb = this.callback;
  socket[kDirectPending]--;
  socket[kDirectBytes] -= this.bytes;
  if (socket.destroyed) {
    // Cancelled by destroy(), or finished as it ran. The write in flight
    // completes as net's onWriteComplete has it (null, or on Node 22+ its
    // error, which becomes the stream's); the queued ones with the
    // stream's error or ERR_STREAM_DESTROYED (Writable's errorBuffer).
    if (!socket[kDirectInFlightDone]) {
      socket[kDirectInFlightDone] = true;
      if (status < 0 && DESTROYED_WRITES_SEE_ERRORS) {
        const ex = errnoException(status, 'write', this.error);
        streamState.markWriteErrored(socket, ex);
        if (cb !== null) cb(ex);
      } else if (cb !== null) {
        cb(null);
      }
    } else if (cb !== null) {
      cb(socket.errored ?? codes.ERR_STREAM_DESTROYED('write'));
    }
    return;
  }
  if (status < 0) {
    // Writable's onwriteError: errored at once, the callback, then destroy
    // (whose 'error' comes after what the callback queued).
    const ex = errnoException(status, 'write', this.error);
    streamState.markWriteErrored(socket, ex);
    if (cb !== null) cb(ex);
    if (!socket.destroyed) socket.destroy(ex);
    return;
  }
  socket[kLastWriteQueueSize] = 0;
  // Writable's afterWrite: 'drain' (not while ending), then the callback.
  if (socket[kDirectPending] === 0 && socket[kDirectNeedDrain]) {
    socket[kDirectNeedDrain] = false;
    if (!socket.writableEnded) socket.emit('drain');
  }
  if (cb !== null) cb(null);
  const final = socket[kFinalAfterDirect];
  if (socket[kDirectPending] === 0 && final !== null) {
    socket[kFinalAfterDirect] = null;
    if (!socket.destroyed) shutdownNow(socket, final);
  }
}

// The callbacks of fast-path writes the kernel took at once, in the tick
// the first of them queued (Writable's afterWriteTick).
function afterDirectWriteTick(info) {
  const socket = info.socket;
  if (socket[kAfterWriteTick] === info) socket[kAfterWriteTick] = null;
  for (let i = 0; i < info.count; i++) info.cb(null);
}

// A fast-path write the binding refused at once: Writable's onwriteError
// in the tick its onwrite queues (callback, then destroy).
function afterDirectWriteError(socket, err, cb) {
  if (typeof cb === 'function') cb(err);
  if (!socket.destroyed) socket.destroy(err);
}

function createWriteWrap(handle, cb) {
  const req = new WriteWrap();
  req.handle = handle;
  req.oncomplete = onWriteComplete;
  req.async = false;
  req.bytes = 0;
  req.buffer = null;
  req.callback = cb;
  return req;
}

// Dispatch one chunk; returns the binding's errno.
function handleWriteReq(req, data, encoding) {
  const { handle } = req;
  switch (encoding) {
    case 'buffer': {
      const ret = data[kFds] ? handle.sendFds(req, data, data[kFds]) : handle.writeBuffer(req, data);
      // Keep the bytes alive while the kernel still needs them.
      if (streamBaseState[kLastWriteWasAsync]) req.buffer = data;
      return ret;
    }
    case 'utf8':
    case 'utf-8':
      return handle.writeUtf8String(req, data);
    case 'latin1':
    case 'binary':
      return handle.writeLatin1String(req, data);
    case 'ascii':
      return handle.writeAsciiString(req, data);
    case 'ucs2':
    case 'ucs-2':
    case 'utf16le':
    case 'utf-16le':
      return handle.writeUcs2String(req, data);
    default: {
      const buffer = Buffer.from(data, encoding);
      const ret = handle.writeBuffer(req, buffer);
      if (streamBaseState[kLastWriteWasAsync]) req.buffer = buffer;
      return ret;
    }
  }
}

// _writev(): an all-Buffer batch up to this size is copied into one Buffer.
const WRITEV_CONCAT_MAX_BYTES = 4096;
const WRITEV_CONCAT_MAX_CHUNKS = 64;

// One Buffer holding a batch of Buffers, or null if the batch is bigger than
// WRITEV_CONCAT_MAX_BYTES or carries fds (sendFds Buffers keep their write).
function concatSmallBuffers(chunks) {
  let total = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i].chunk;
    if (c[kFds] !== undefined) return null;
    total += c.length;
    if (total > WRITEV_CONCAT_MAX_BYTES) return null;
  }
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i].chunk;
    buf.set(c, off);
    off += c.length;
  }
  return buf;
}

// Encodings every binding's writev() must understand natively; anything
// else (hex, base64, …) is turned into a Buffer here.
function isNativeEncoding(enc) {
  switch (enc) {
    case 'buffer': case 'utf8': case 'utf-8': case 'latin1': case 'binary':
    case 'ascii': case 'ucs2': case 'ucs-2': case 'utf16le': case 'utf-16le':
      return true;
    default:
      return false;
  }
}

// After a write*/writev call: a synchronous completion gets no oncomplete,
// so finish it here; an async one finishes in onWriteComplete.
function afterWriteDispatched(req, err, cb) {
  req.bytes = streamBaseState[kStateBytesWritten];
  req.async = streamBaseState[kLastWriteWasAsync] !== 0;
  if (err !== 0) {
    cb(errnoException(err, 'write', req.error));
    return;
  }
  if (!req.async) cb();
}

function writeAfterFIN(chunk, encoding, cb) {
  if (!this.writableEnded) return stream.Duplex.prototype.write.call(this, chunk, encoding, cb);
  if (typeof encoding === 'function') cb = encoding;
  const er = new Error('This socket has been ended by the other party');
  er.code = 'EPIPE';
  if (typeof cb === 'function') process.nextTick(cb, er);
  this.destroy(er);
  return false;
}

// 'end' listener: without allowHalfOpen, writes after the peer's FIN fail
// with a clear EPIPE instead of "write after end".
function onReadableStreamEnd() {
  if (!this.allowHalfOpen) this.write = writeAfterFIN;
}

function emitCloseNT(self) {
  self.emit('close');
}

function tryReadStart(socket) {
  socket._handle.reading = true;
  const err = socket._handle.readStart();
  if (err) socket.destroy(errnoException(err, 'read'));
}

// As Node's createHandle: validateInt32(fd, 'fd', 0), then the fd's type
// (an fd that is not open is of type UNKNOWN).
function createHandleFromFd(fd) {
  if (typeof fd !== 'number') throw codes.ERR_INVALID_ARG_TYPE('fd', 'number', fd);
  if (!Number.isInteger(fd)) throw codes.ERR_OUT_OF_RANGE('fd', 'an integer', fd);
  if (fd < 0 || fd > 0x7fffffff) throw codes.ERR_OUT_OF_RANGE('fd', '>= 0 && <= 2147483647', fd);
  let st;
  try {
    st = fs.fstatSync(fd);
  } catch {
    throw codes.ERR_INVALID_FD_TYPE('UNKNOWN');
  }
  if (!st.isSocket() && !st.isFIFO()) {
    const kind = st.isFile() ? 'FILE' : st.isCharacterDevice() ? 'TTY' : 'UNKNOWN';
    throw codes.ERR_INVALID_FD_TYPE(kind);
  }
  return new Pipe(PipeConstants.SOCKET);
}

// Our sockets are JS streams. When running on Node's own binding the handle
// claims to be a StreamBase, and Node's http server would then bypass this
// class and read the handle natively; hide that so both bindings take the
// same path.
function hideStreamBase(handle) {
  if (handle.isStreamBase) {
    Object.defineProperty(handle, 'isStreamBase', { value: false, configurable: true, writable: true });
  }
}

function initSocketHandle(self) {
  self._undestroy();
  const handle = self._handle;
  if (handle) {
    handle[kOwner] = self;
    handle.onread = onStreamRead;
    // Small reads as slices of a shared pool (onStreamRead honours the
    // offset): no ArrayBuffer allocated per read. pipewrap's binding only.
    if (typeof handle.setPooledReads === 'function') handle.setPooledReads(true);
    hideStreamBase(handle);
    if (self[kFdPassing]) enableFdPassing(handle);
    let userBuf = self[kUserBuffer];
    if (userBuf) {
      const gen = self[kUserBufferGen];
      if (gen !== null) {
        userBuf = gen();
        if (!isUint8Array(userBuf)) return;
        self[kUserBuffer] = userBuf;
      }
      handle.useUserBuffer(userBuf);
    }
  }
}

function enableFdPassing(handle) {
  if (IS_WINDOWS) throw unixOnly('fdPassing');
  if (typeof handle.setFdPassing !== 'function') {
    throw codes.ERR_FEATURE_UNAVAILABLE_ON_PLATFORM('fdPassing (it needs the pipewrap native binding)');
  }
  handle.setFdPassing(true);
}

// listen() options with nothing to listen on (Node's "must have the
// property "port" or "path"", for what this layer listens on).
function noListenTarget(given) {
  return codes.ERR_INVALID_ARG_VALUE('options', given, 'must have the property "path", "handle" or "fd"');
}

// Node's validatePort: a number or a non-blank string naming 0..65535.
function isValidPort(port) {
  if (typeof port !== 'number' && typeof port !== 'string') return false;
  if (typeof port === 'string' && port.trim().length === 0) return false;
  return +port === (+port >>> 0) && +port <= 0xFFFF;
}

function validateTimerDuration(msecs, name) {
  if (typeof msecs !== 'number') throw codes.ERR_INVALID_ARG_TYPE(name, 'number', msecs);
  if (!(msecs >= 0) || !Number.isFinite(msecs)) {
    throw codes.ERR_OUT_OF_RANGE(name, 'a non-negative finite number', msecs);
  }
  return msecs;
}

// Socket and Server are constructor functions, as Node's net.Socket and
// net.Server are, not classes: Node's callers rely on that. `net.Server()`
// without `new` (Node's own pipe tests), http and tls initialising objects
// of their own subclasses (`net.Server.call(this, ...)`,
// `ReflectApply(net.Socket, this, args)`) and util.inherits-style
// subclasses. The methods are written in a class body (SocketMethods,
// ServerMethods) for `super`, which keeps resolving against `base`;
// adoptMethods() copies them onto the constructor's own prototype (using
// the class's prototype object itself made `new Socket()` 17% slower here;
// copied, it is faster than the class was).
function adoptMethods(ctor, methods, base) {
  Object.setPrototypeOf(ctor.prototype, base.prototype);
  for (const key of Reflect.ownKeys(methods.prototype)) {
    if (key === 'constructor') continue;
    Object.defineProperty(ctor.prototype, key, Object.getOwnPropertyDescriptor(methods.prototype, key));
  }
  Object.setPrototypeOf(ctor, base);
}

function Socket(options) {
  if (!(this instanceof Socket)) return new Socket(options);
  if (typeof options === 'number') options = { fd: options };
  else if (options == null) options = {};
  else if (typeof options !== 'object') throw codes.ERR_INVALID_ARG_TYPE('options', 'Object', options);
  else options = { __proto__: null, ...options };

  if (options.objectMode || options.readableObjectMode || options.writableObjectMode) {
    const key = options.objectMode ? 'objectMode' : options.readableObjectMode ? 'readableObjectMode' : 'writableObjectMode';
    throw codes.ERR_INVALID_ARG_VALUE(`options.${key}`, options[key], 'is not supported');
  }

  const { handle } = options;
  if (handle && !(handle instanceof Pipe)) {
    // A stream handle of Node's own: child_process wraps its stdio pipes
    // with `net.Socket({ handle })`, which is this constructor when a
    // program replaced net.Socket with it. Only Node's Socket can drive
    // such a handle (its reads and requests use Node's own state), so a
    // plain construction hands it one; initialising a subclass's object
    // cannot, and says so.
    if (typeof handle === 'object' && handle.isStreamBase === true && new.target === Socket && NodeSocket !== null) {
      return new NodeSocket(options);
    }
    throw codes.ERR_INVALID_ARG_TYPE('options.handle', 'a pipewrap Pipe', handle);
  }

  // Default to *not* allowing half-open sockets; 'close' is emitted by us
  // from the handle's close callback, not by the stream machinery.
  options.allowHalfOpen = Boolean(options.allowHalfOpen);
  options.emitClose = false;
  options.autoDestroy = true;
  options.decodeStrings = false; // strings go to the binding as strings
  stream.Duplex.call(this, options);

  this.connecting = false;
  this._handle = null;
  // kTimeout, kBytesRead, kBytesWritten and kFdPassing are set on the
  // instance only when they change (setTimeout, destroy, fdPassing): their
  // defaults live on the prototype, so an idle connection does not carry
  // four slots that almost never change (see the prototype defaults after
  // the class).
  this[kLastWriteQueueSize] = 0;
  this._pendingData = null;
  this._pendingEncoding = '';
  this.server = null;
  this._server = null;

  if (options.handle) {
    this._handle = options.handle;
  } else if (options.fd !== undefined) {
    const { fd } = options;
    this._handle = createHandleFromFd(fd);
    const err = this._handle.open(fd);
    if (err) {
      this._handle.close();
      this._handle = null;
      throw errnoException(err, 'open');
    }
  }

  if (options.fdPassing) this[kFdPassing] = true;
  // Node's onread option: reads go into the user's buffer and to its
  // callback instead of 'data' (ignored unless well formed, as in Node).
  const { onread } = options;
  if (onread !== null && typeof onread === 'object' &&
      (isUint8Array(onread.buffer) || typeof onread.buffer === 'function') &&
      typeof onread.callback === 'function') {
    if (typeof onread.buffer === 'function') {
      this[kUserBuffer] = true;
      this[kUserBufferGen] = onread.buffer;
    } else {
      this[kUserBuffer] = onread.buffer;
    }
    this[kUserBufferCb] = onread.callback;
  }
  this[kDirectPending] = 0;
  this[kDirectNeedDrain] = false;
  this[kDirectBytes] = 0;
  this[kFinalAfterDirect] = null;
  this.on('end', onReadableStreamEnd);
  initSocketHandle(this);

  // With a handle we are connected already: start the data flow (or keep
  // it stopped for pauseOnConnect servers).
  if (this._handle && options.readable !== false) {
    if (options.pauseOnCreate) {
      this._handle.reading = false;
      this._handle.readStop();
      this.readableFlowing = false;
    } else if (!options.manualStart) {
      this.read(0);
    }
  }
}

class SocketMethods extends stream.Duplex {
  connect(...args) {
    const [options, cb] = normalizeConnectArgs(args);
    const { path } = options;
    validatePath(path, 'options.path');
    if (options.fdPassing !== undefined) this[kFdPassing] = Boolean(options.fdPassing);
    if (IS_WINDOWS && this[kFdPassing]) throw unixOnly('fdPassing');

    if (this.connecting) {
      throw codes.ERR_SOCKET_CONNECTING();
    }
    if (cb !== null) this.once('connect', cb);
    if (this.write !== Socket.prototype.write) this.write = Socket.prototype.write;
    if (this.destroyed) {
      // Reconnecting a destroyed socket starts over with a fresh handle.
      this._handle = null;
      this._undestroy();
      if (this[kDirectInFlightDone]) this[kDirectInFlightDone] = false;
    }
    this.connecting = true;

    if (!this._handle) {
      this._handle = new Pipe(PipeConstants.SOCKET);
      initSocketHandle(this);
    }

    const tooLong = pathTooLong(path);
    if (tooLong !== null) {
      // destroy() emits 'error' on the next tick, after the caller has had
      // a chance to attach a listener, then 'close' with hadError true from
      // the handle's close, like every other connect error.
      this.destroy(connectException(UV_ENAMETOOLONG, path, tooLong));
      return this;
    }
    this._unrefTimer();

    // Node's internalConnect: an attempt per connect, with no port or
    // address family for a path.
    this.emit('connectionAttempt', path, undefined, undefined);
    const req = new PipeConnectWrap();
    req.address = path;
    req.oncomplete = afterConnect;
    const err = this._handle.connect(req, path);
    if (err) this.destroy(connectException(err, path));
    return this;
  }

  // Node's legacy alias.
  get _connecting() {
    return this.connecting;
  }

  get pending() {
    return !this._handle || this.connecting;
  }

  get readyState() {
    if (this.connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  get bufferSize() {
    return this._handle ? this.writableLength : undefined;
  }

  get bytesRead() {
    return this._handle ? this._handle.bytesRead : this[kBytesRead];
  }

  get _bytesDispatched() {
    return this._handle ? this._handle.bytesWritten : this[kBytesWritten];
  }

  // Bytes handed to the kernel plus bytes still buffered in the stream, as
  // Node counts them.
  get bytesWritten() {
    let bytes = this._bytesDispatched;
    const writableBuffer = this.writableBuffer;
    if (!writableBuffer) return undefined;
    for (const el of writableBuffer) {
      bytes += Buffer.isBuffer(el.chunk) ? el.chunk.length : Buffer.byteLength(el.chunk, el.encoding);
    }
    const data = this._pendingData;
    if (Array.isArray(data)) {
      for (const chunk of data) {
        if (data.allBuffers || Buffer.isBuffer(chunk)) bytes += chunk.length;
        else bytes += Buffer.byteLength(chunk.chunk, chunk.encoding);
      }
    } else if (data) {
      bytes += typeof data === 'string' ? Buffer.byteLength(data, this._pendingEncoding) : data.length;
    }
    return bytes;
  }

  /**
   * pipewrap extension: `{ pid, uid, gid }` of the process at the other end
   * (SO_PEERCRED), for accepted and connecting sockets alike.
   */
  getPeerCredentials() {
    if (IS_WINDOWS) throw unixOnly('getPeerCredentials (uid/gid); getPeerPid() gives the pid');
    const handle = this._handle;
    if (!handle || this.connecting) {
      throw codes.ERR_SOCKET_CLOSED();
    }
    if (typeof handle.getPeerCredentials !== 'function') {
      throw codes.ERR_FEATURE_UNAVAILABLE_ON_PLATFORM('getPeerCredentials (it needs the pipewrap native binding)');
    }
    const cred = handle.getPeerCredentials();
    if (typeof cred === 'number') throw errnoException(cred, 'getsockopt');
    return cred;
  }

  /**
   * pipewrap extension: the pid of the process at the other end, on every
   * platform (SO_PEERCRED on Linux, LOCAL_PEERPID on macOS,
   * GetNamedPipeClientProcessId / GetNamedPipeServerProcessId on Windows).
   */
  getPeerPid() {
    const handle = this._handle;
    if (!handle || this.connecting) {
      throw codes.ERR_SOCKET_CLOSED();
    }
    if (typeof handle.getPeerPid !== 'function') {
      throw codes.ERR_FEATURE_UNAVAILABLE_ON_PLATFORM('getPeerPid (it needs the pipewrap native binding)');
    }
    const pid = handle.getPeerPid();
    if (pid < 0) throw errnoException(pid, 'getpeerpid');
    return pid;
  }

  /**
   * pipewrap extension: sends open fds over this socket (SCM_RIGHTS), with
   * `data` or a single zero byte. The receiver, if it set `fdPassing`, gets
   * them as an `'fds'` event before the `'data'` that carried them. The
   * callback runs once the fds are in the kernel: the sender may then close
   * its copies. Ordered with the socket's other writes.
   */
  sendFds(fds, data, callback) {
    if (IS_WINDOWS) throw unixOnly('sendFds');
    if (typeof data === 'function') {
      callback = data;
      data = undefined;
    }
    if (!Array.isArray(fds) || fds.length === 0 || fds.length > 64 || !fds.every((fd) => Number.isInteger(fd) && fd >= 0)) {
      throw codes.ERR_INVALID_ARG_TYPE('fds', 'an array of 1 to 64 file descriptors', fds);
    }
    let buf;
    if (data === undefined) buf = Buffer.alloc(1);
    else if (typeof data === 'string') buf = Buffer.from(data);
    else if (ArrayBuffer.isView(data)) buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    else throw codes.ERR_INVALID_ARG_TYPE('data', ['string', 'Buffer', 'Uint8Array'], data);
    if (buf.length === 0) buf = Buffer.alloc(1);
    else buf = Buffer.from(buf); // our own copy carries the fds marker
    buf[kFds] = fds.slice();
    return this.write(buf, callback);
  }

  /** pipewrap extension: the socket's fd (e.g. for a child's stdio), or -1. */
  get fd() {
    return this._handle ? this._handle.fd : -1;
  }

  // Node's net.Socket has no `fd`, so an assignment makes an own property
  // there; Node's stdio setup does `stream.fd = fd` on the sockets it makes
  // for process.stdout and stderr, which are pipewrap's if net.Socket was
  // replaced by this one.
  set fd(value) {
    Object.defineProperty(this, 'fd', { value, writable: true, enumerable: true, configurable: true });
  }

  // Unix sockets have no addresses on the socket itself (no getsockname in
  // the binding); only server.address() knows the path.
  address() {
    return {};
  }

  get remoteAddress() { return undefined; }
  get remoteFamily() { return undefined; }
  get remotePort() { return undefined; }
  get localAddress() { return undefined; }
  get localPort() { return undefined; }
  get localFamily() { return undefined; }

  // TCP-only knobs: accepted for API compatibility, nothing to do on a pipe.
  setNoDelay() {
    return this;
  }

  setKeepAlive() {
    return this;
  }

  ref() {
    if (!this._handle) {
      this.once('connect', this.ref);
      return this;
    }
    this._handle.ref();
    return this;
  }

  unref() {
    if (!this._handle) {
      this.once('connect', this.unref);
      return this;
    }
    this._handle.unref();
    return this;
  }

  setTimeout(msecs, callback) {
    if (this.destroyed) return this;
    this.timeout = msecs;
    msecs = validateTimerDuration(msecs, 'msecs');
    if (callback !== undefined && typeof callback !== 'function') {
      throw codes.ERR_INVALID_ARG_TYPE('callback', 'Function', callback);
    }
    clearTimeout(this[kTimeout]);
    if (msecs === 0) {
      this[kTimeout] = null;
      if (callback !== undefined) this.removeListener('timeout', callback);
    } else {
      // An idle timer must not keep the process alive by itself.
      this[kTimeout] = setTimeout(onSocketTimeout, msecs, this).unref();
      if (callback !== undefined) this.once('timeout', callback);
    }
    return this;
  }

  // Restart the idle timer on activity.
  _unrefTimer() {
    const timer = this[kTimeout];
    if (timer !== null) timer.refresh();
  }

  _onTimeout() {
    const handle = this._handle;
    const lastWriteQueueSize = this[kLastWriteQueueSize];
    if (lastWriteQueueSize > 0 && handle) {
      // The write queue moved since the last check: a slow write is still
      // making progress, which is not idleness.
      const { writeQueueSize } = handle;
      if (lastWriteQueueSize !== writeQueueSize) {
        this[kLastWriteQueueSize] = writeQueueSize;
        this._unrefTimer();
        return;
      }
    }
    this.emit('timeout');
  }

  _read(n) {
    if (this.connecting || !this._handle) {
      this.once('connect', () => this._read(n));
    } else if (!this._handle.reading) {
      tryReadStart(this);
    }
  }

  // Fast path: with the Writable queue idle, a chunk goes straight to the
  // binding, skipping the queue bookkeeping and the per-write nextTick of
  // Writable (the callback, if any, still runs asynchronously). Order holds:
  // anything the kernel does not take at once waits in the native queue, and
  // later writes line up behind it there. Everything else (corked, ending,
  // connecting, queued, other encodings) takes the ordinary path.
  write(chunk, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    const handle = this._handle;
    if (handle === null || this.connecting || this._pendingData !== null || !streamState.writableIdle(this)) {
      return super.write(chunk, encoding, cb);
    }
    let err;
    const req = new WriteWrap();
    if (typeof chunk === 'string') {
      if (encoding === undefined ? streamState.defaultEncoding(this) !== 'utf8' : encoding !== 'utf8' && encoding !== 'utf-8') {
        return super.write(chunk, encoding, cb);
      }
      err = handle.writeUtf8String(req, chunk);
    } else if (chunk instanceof Uint8Array && chunk[kFds] === undefined) {
      err = handle.writeBuffer(req, chunk);
    } else {
      return super.write(chunk, encoding, cb);
    }
    if (this[kTimeout] !== null) this._unrefTimer();
    if (err !== 0) {
      const ex = errnoException(err, 'write');
      streamState.markWriteErrored(this, ex);
      process.nextTick(afterDirectWriteError, this, ex, cb);
      return false;
    }
    if (streamBaseState[kLastWriteWasAsync] === 0) {
      if (typeof cb === 'function') {
        // One tick for a run of writes with the same callback, as Writable
        // (writes without one do not break the run).
        const info = this[kAfterWriteTick];
        if (info !== null && info.cb === cb) {
          info.count++;
        } else {
          const next = { socket: this, cb, count: 1 };
          this[kAfterWriteTick] = next;
          process.nextTick(afterDirectWriteTick, next);
        }
      }
      return true;
    }
    // The rest waits in the native queue; keep the bytes alive until done.
    req.buffer = chunk;
    req.callback = typeof cb === 'function' ? cb : null;
    req.socket = this;
    req.bytes = streamBaseState[kStateBytesWritten];
    req.oncomplete = onDirectWriteComplete;
    this[kDirectPending]++;
    this[kDirectBytes] += req.bytes;
    this[kLastWriteQueueSize] = handle.writeQueueSize;
    if (handle.writeQueueSize < this.writableHighWaterMark) return true;
    this[kDirectNeedDrain] = true;
    return false;
  }

  // Chunks written through the fast path count as buffered until their
  // callback, as they would in the Writable queue.
  get writableLength() {
    return super.writableLength + this[kDirectBytes];
  }

  get writableNeedDrain() {
    return super.writableNeedDrain || this[kDirectNeedDrain];
  }

  _write(data, encoding, cb) {
    this._writeGeneric(false, data, encoding, cb);
  }

  _writev(chunks, cb) {
    // A corked batch of small Buffers (node-postgres sends Parse, Bind,
    // Describe, Execute and Sync this way for every query) goes out as one
    // Buffer: copying a few hundred bytes is cheaper than the binding looking
    // up each chunk. The same bytes in one write(2) instead of a writev(2);
    // what the kernel does not take at once waits as that copy.
    const one = chunks.allBuffers === true && chunks.length <= WRITEV_CONCAT_MAX_CHUNKS ?
      concatSmallBuffers(chunks) : null;
    if (one !== null) this._writeGeneric(false, one, 'buffer', cb);
    else this._writeGeneric(true, chunks, '', cb);
  }

  _writeGeneric(writev, data, encoding, cb) {
    if (this.connecting) {
      // Hold the write until connected; the Writable queues the rest.
      this._pendingData = data;
      this._pendingEncoding = encoding;
      const onClose = () => {
        cb(codes.ERR_SOCKET_CLOSED_BEFORE_CONNECTION());
      };
      this.once('connect', function onConnect() {
        this.off('close', onClose);
        this._writeGeneric(writev, data, encoding, cb);
      });
      this.once('close', onClose);
      return;
    }
    this._pendingData = null;
    this._pendingEncoding = '';

    const handle = this._handle;
    if (!handle) {
      cb(codes.ERR_SOCKET_CLOSED());
      return;
    }
    this._unrefTimer();

    if (writev && data.some((c) => c.chunk[kFds])) {
      // fds must ride with their own bytes: no coalescing across them.
      writeSequentially(this, data, cb);
      return;
    }
    const req = createWriteWrap(handle, cb);
    let err;
    if (writev) {
      let chunks;
      const allBuffers = data.allBuffers === true;
      if (allBuffers) {
        chunks = new Array(data.length);
        for (let i = 0; i < data.length; i++) chunks[i] = data[i].chunk;
      } else {
        chunks = new Array(data.length * 2);
        for (let i = 0; i < data.length; i++) {
          let { chunk, encoding: enc } = data[i];
          if (!isNativeEncoding(enc)) {
            chunk = Buffer.from(chunk, enc);
            enc = 'buffer';
          }
          chunks[i * 2] = chunk;
          chunks[i * 2 + 1] = enc;
        }
      }
      err = handle.writev(req, chunks, allBuffers);
      if (err === 0) req._chunks = chunks; // keep them alive until done
    } else {
      err = handleWriteReq(req, data, encoding);
    }
    afterWriteDispatched(req, err, cb);
    if (req.async) this[kLastWriteQueueSize] = req.bytes;
  }

  // end() was called and everything is written: send our FIN. Writes of the
  // fast path (write() above) are not in the Writable queue: the FIN waits
  // for the last of them and goes from its completion, where Node's
  // Writable would call _final (so in that write's async context, too).
  _final(cb) {
    if (this.pending) {
      this.once('connect', () => this._final(cb));
      return;
    }
    if (!this._handle) {
      cb();
      return;
    }
    if (this[kDirectPending] > 0) {
      this[kFinalAfterDirect] = cb;
      return;
    }
    shutdownNow(this, cb);
  }

  end(data, encoding, callback) {
    super.end(data, encoding, callback);
    return this;
  }

  // With the onread option nothing is pushed, so Readable's own reading
  // state cannot restart the handle: these do, as Node's.
  pause() {
    if (this[kUserBuffer] !== null && !this.connecting && this._handle && this._handle.reading) {
      this._handle.reading = false;
      if (!this.destroyed) {
        const err = this._handle.readStop();
        if (err) this.destroy(errnoException(err, 'read'));
      }
    }
    return super.pause();
  }

  resume() {
    if (this[kUserBuffer] !== null && !this.connecting && this._handle && !this._handle.reading) {
      tryReadStart(this);
    }
    return super.resume();
  }

  read(n) {
    if (this[kUserBuffer] !== null && !this.connecting && this._handle && !this._handle.reading) {
      tryReadStart(this);
    }
    return super.read(n);
  }

  // Node resets TCP connections only; a pipe's handle is refused, and a
  // socket without one is destroyed with ERR_SOCKET_CLOSED.
  resetAndDestroy() {
    if (this._handle) throw codes.ERR_INVALID_HANDLE_TYPE();
    this.destroy(codes.ERR_SOCKET_CLOSED());
    return this;
  }

  destroySoon() {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', this.destroy);
  }

  _destroy(exception, cb) {
    this.connecting = false;
    if (this[kTimeout] !== null) {
      clearTimeout(this[kTimeout]);
      this[kTimeout] = null;
    }

    const handle = this._handle;
    if (handle) {
      const isException = Boolean(exception);
      this[kBytesRead] = handle.bytesRead;
      this[kBytesWritten] = handle.bytesWritten;
      // 'close' comes from the close callback, after the fd is really gone.
      handle.close(() => this.emit('close', isException));
      // Node's net parks onread on a no-op here. pipewrap's Pipe calls
      // no onread after close() (a closing stream reads nothing: its poll
      // is stopped or gone), so it skips a native call and a reference.
      if (!OWN_PIPE) handle.onread = noop;
      this._handle = null;
      cb(exception);
    } else {
      cb(exception);
      process.nextTick(emitCloseNT, this);
    }

    const server = this._server;
    if (server) {
      server._connections--;
      server._emitCloseIfDrained();
    }
  }
}
adoptMethods(Socket, SocketMethods, stream.Duplex);

function shutdownNow(socket, cb) {
  const req = new ShutdownWrap();
  req.oncomplete = afterShutdown;
  req.handle = socket._handle;
  req.callback = cb;
  const err = socket._handle.shutdown(req);
  if (err === 1 || err === UV_ENOTCONN) cb(); // nothing to wait for
  else if (err !== 0) cb(errnoException(err, 'shutdown'));
}

function afterShutdown() {
  this.callback();
}

function onSocketTimeout(socket) {
  socket._onTimeout();
}

// connect(path[, cb]) | connect(options[, cb]) → [options, cb]
function normalizeConnectArgs(args) {
  if (args.length === 0) {
    throw codes.ERR_MISSING_ARGS(['options', 'path']);
  }
  const arg0 = args[0];
  let options;
  if (typeof arg0 === 'string') {
    options = { path: arg0 };
  } else if (arg0 !== null && typeof arg0 === 'object') {
    options = { __proto__: null, ...arg0 };
    if (options.path == null) {
      if (options.port !== undefined) {
        throw codes.ERR_INVALID_ARG_VALUE('options.port', options.port,
          'is not supported: pipewrap connects Unix domain sockets only (use options.path)');
      }
      throw codes.ERR_MISSING_ARGS('options.path');
    }
  } else {
    throw codes.ERR_INVALID_ARG_TYPE('path', ['string', 'Object'], arg0);
  }
  const last = args[args.length - 1];
  const cb = args.length > 1 && typeof last === 'function' ? last : null;
  return [options, cb];
}

function connect(...args) {
  const [options] = normalizeConnectArgs(args);
  const socket = new Socket(typeof args[0] === 'object' ? options : undefined);
  // As Node: the timeout option is net.connect()'s, not Socket#connect's.
  if (options.timeout) socket.setTimeout(options.timeout);
  return socket.connect(...args);
}

// ---------------------------------------------------------------------------
// Server

// handle.onconnection, called with this = server handle.
function onconnection(err, clientHandle) {
  const self = this[kOwner];
  if (err) {
    self.emit('error', errnoException(err, 'accept'));
    return;
  }
  if (self.maxConnections && self._connections >= self.maxConnections) {
    clientHandle.close();
    self.emit('drop'); // pipes have no addresses to report
    return;
  }
  const socket = new Socket({
    handle: clientHandle,
    fdPassing: self.fdPassing,
    allowHalfOpen: self.allowHalfOpen,
    pauseOnCreate: self.pauseOnConnect,
    readable: true,
    writable: true,
    readableHighWaterMark: self.highWaterMark,
    writableHighWaterMark: self.highWaterMark,
  });
  self._connections++;
  socket.server = self;
  socket._server = self;
  self.emit('connection', socket);
}

function emitErrorNT(self, err) {
  self.emit('error', err);
}

// listen({ signal }): an abort closes the server (before it says
// 'listening' if the signal is aborted already), as Node's does.
function validateSignal(signal, name) {
  if (signal === undefined) return;
  if (signal === null || typeof signal !== 'object' || !('aborted' in signal)) {
    throw codes.ERR_INVALID_ARG_TYPE(name, 'AbortSignal', signal);
  }
}

function addServerAbortSignal(server, signal) {
  if (signal === undefined) return;
  const onAborted = () => server.close();
  if (signal.aborted) {
    process.nextTick(onAborted);
    return;
  }
  signal.addEventListener('abort', onAborted, { once: true });
  server.once('close', () => signal.removeEventListener('abort', onAborted));
}

function emitListeningNT(self) {
  if (self._handle) self.emit('listening');
}

function validateMode(mode) {
  if (typeof mode === 'string' && /^[0-7]+$/.test(mode)) mode = parseInt(mode, 8);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) {
    throw codes.ERR_INVALID_ARG_VALUE('options.mode', mode, 'must be a permission mode between 0 and 0o777');
  }
  return mode;
}

// What to do about an EADDRINUSE path under reclaimStale, given the probe
// result: unlink only a socket file nobody answers on.
function reclaimDecision(path, probeStatus) {
  if (probeStatus !== UV_ECONNREFUSED) return false;
  try {
    if (!fs.lstatSync(path).isSocket()) return false;
    fs.unlinkSync(path);
  } catch (e) {
    if (e.code !== 'ENOENT') return false; // vanished meanwhile: rebind
  }
  return true;
}

function isSocketFile(path) {
  try {
    return fs.lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

function Server(options, connectionListener) {
  if (!(this instanceof Server)) return new Server(options, connectionListener);
  EventEmitter.call(this);
  if (typeof options === 'function') {
    connectionListener = options;
    options = {};
  } else if (options == null) {
    options = {};
  } else if (typeof options !== 'object') {
    throw codes.ERR_INVALID_ARG_TYPE('options', 'Object', options);
  }
  options = { __proto__: null, ...options }; // nothing read through the prototype
  if (typeof connectionListener === 'function') this.on('connection', connectionListener);

  if (options.keepAliveInitialDelay !== undefined && typeof options.keepAliveInitialDelay !== 'number') {
    throw codes.ERR_INVALID_ARG_TYPE('options.keepAliveInitialDelay', 'number', options.keepAliveInitialDelay);
  }
  if (options.highWaterMark !== undefined && typeof options.highWaterMark !== 'number') {
    throw codes.ERR_INVALID_ARG_TYPE('options.highWaterMark', 'number', options.highWaterMark);
  }
  this._connections = 0;
  this._handle = null;
  this._pipeName = undefined;
  this._unref = false;
  this.maxConnections = undefined;
  this.allowHalfOpen = Boolean(options.allowHalfOpen);
  this.pauseOnConnect = Boolean(options.pauseOnConnect);
  // TCP options Node's Server keeps as given (no effect on a pipe).
  this.noDelay = Boolean(options.noDelay);
  this.keepAlive = Boolean(options.keepAlive);
  this.keepAliveInitialDelay = ~~(Math.max(options.keepAliveInitialDelay, 0) / 1000);
  this.fdPassing = Boolean(options.fdPassing);
  if (IS_WINDOWS && this.fdPassing) throw unixOnly('fdPassing');
  this.highWaterMark = options.highWaterMark >= 0 ? options.highWaterMark : stream.getDefaultHighWaterMark(false);
}

class ServerMethods extends EventEmitter {
  get listening() {
    return Boolean(this._handle);
  }

  listen(...args) {
    if (this._handle) {
      throw codes.ERR_SERVER_ALREADY_LISTEN();
    }
    const last = args[args.length - 1];
    const cb = typeof last === 'function' ? last : null;
    if (cb !== null) args.pop();
    const backlogArg = typeof args[1] === 'number' ? args[1] : undefined;

    let arg0 = args[0];
    if (arg0 === undefined || arg0 === null) {
      throw codes.ERR_MISSING_ARGS(['path', 'options']);
    }
    // As Node normalises them: a number is a port, a string a path.
    if (typeof arg0 === 'number') arg0 = { port: arg0 };
    else if (typeof arg0 === 'string') arg0 = { path: arg0 };
    // Node: an argument that is neither a port, a path nor an options object
    // is an options value without "port" or "path".
    if (typeof arg0 !== 'object') throw noListenTarget(arg0);
    // An options bag is read from its own properties only; a handle, server
    // or socket passed as such is used as it is.
    const given = arg0;
    if (!(arg0 instanceof Pipe) && !(arg0 instanceof EventEmitter)) arg0 = { __proto__: null, ...arg0 };

    // listen(handle) | listen({ handle }) | listen(serverOrSocket) | listen({ fd })
    let options = arg0;
    const handleLike = arg0 instanceof Pipe ? arg0 : (arg0._handle || arg0.handle);
    if (handleLike) options = handleLike;

    // Node checks a port first, and listens on it rather than on a path
    // given with it: with no TCP here, a port is an error either way.
    if (!handleLike && (typeof arg0.port === 'number' || typeof arg0.port === 'string')) {
      if (!isValidPort(arg0.port)) throw codes.ERR_SOCKET_BAD_PORT('options.port', arg0.port);
      throw codes.ERR_INVALID_ARG_VALUE('options.port', arg0.port,
        'is not supported: pipewrap listens on Unix domain sockets only (use options.path)');
    }

    const backlog = (arg0 instanceof Pipe ? undefined : arg0.backlog) || backlogArg || 511;
    if (!Number.isInteger(backlog)) throw codes.ERR_INVALID_ARG_TYPE('backlog', 'an integer', backlog);

    // Validate everything that can throw before registering the callback.
    let kind;
    if (options instanceof Pipe) {
      kind = 'handle';
    } else if (handleLike || arg0.fd !== undefined) {
      const { fd } = options;
      if (!Number.isInteger(fd) || fd < 0) {
        if (handleLike) throw codes.ERR_INVALID_ARG_TYPE('handle', 'a Pipe handle or a non-negative integer fd', fd);
        throw noListenTarget(given);
      }
      kind = 'fd';
    } else if (typeof arg0.path !== 'string') {
      throw noListenTarget(given);
    } else {
      kind = 'path';
    }

    if (kind !== 'handle' && !handleLike) validateSignal(arg0.signal, 'options.signal');
    if (cb !== null) this.once('listening', cb);
    if (kind !== 'handle' && !handleLike) addServerAbortSignal(this, arg0.signal);
    if (kind === 'handle') this._setupListenHandle(options, null, backlog);
    else if (kind === 'fd') this._listenFd(options.fd, backlog);
    else this._listenPath(arg0, backlog, cb, given);
    return this;
  }

  _listenFd(fd, backlog) {
    let handle;
    let err;
    // As Node: an fd that is not a socket, or not open, is EINVAL.
    try {
      if (!fs.fstatSync(fd).isSocket()) err = UV_EINVAL;
    } catch {
      err = UV_EINVAL;
    }
    if (!err) {
      handle = new Pipe(PipeConstants.SERVER);
      err = handle.open(fd);
      if (err) handle.close();
    }
    if (err) {
      process.nextTick(emitErrorNT, this, listenException(err, null));
      return;
    }
    this._setupListenHandle(handle, null, backlog);
  }

  _listenPath(options, backlog, cb, given) {
    try {
      this._listenPathChecked(options, backlog, given);
    } catch (err) {
      if (cb !== null) this.removeListener('listening', cb);
      throw err;
    }
  }

  // `options` has no prototype; `given` is what the caller passed (for messages).
  _listenPathChecked(options, backlog, given) {
    const { path, readableAll, writableAll } = options;
    validatePath(path, 'options.path');
    const abstract = path.charCodeAt(0) === 0;
    if (abstract && (readableAll || writableAll)) {
      throw codes.ERR_INVALID_ARG_VALUE('options', given,
        'can not set readableAll or writableAllt to true when path is abstract unix socket'); // sic: Node's text
    }
    if (IS_WINDOWS && options.mode !== undefined) throw unixOnly('options.mode');
    if (IS_WINDOWS && options.reclaimStale === true) throw unixOnly('options.reclaimStale');
    let mode = null;
    if (options.mode !== undefined) {
      if (abstract) {
        throw codes.ERR_INVALID_ARG_VALUE('options', given, 'can not set mode when path is abstract unix socket');
      }
      if (readableAll || writableAll) {
        throw codes.ERR_INVALID_ARG_VALUE('options', given, 'can not combine mode with readableAll or writableAll');
      }
      mode = validateMode(options.mode);
    }
    let fchmodMode = 0;
    if (readableAll === true) fchmodMode |= PipeConstants.UV_READABLE;
    if (writableAll === true) fchmodMode |= PipeConstants.UV_WRITABLE;

    this._pipeName = path;
    const tooLong = pathTooLong(path);
    if (tooLong !== null) {
      process.nextTick(emitErrorNT, this, listenException(UV_ENAMETOOLONG, path, tooLong));
      return;
    }

    const handle = new Pipe(PipeConstants.SERVER);
    let err = handle.bind(path, -1);
    if (err === UV_EADDRINUSE && options.reclaimStale === true && !abstract && isSocketFile(path)) {
      // Probe synchronously (non-blocking connect in the addon): only a
      // socket nobody answers on (ECONNREFUSED) is stale.
      const probe = binding.native && binding.native.probeUnixSocket;
      if (typeof probe === 'function' && reclaimDecision(path, probe(path))) {
        err = handle.bind(path, -1);
      }
    }
    if (err) {
      handle.close();
      process.nextTick(emitErrorNT, this, listenException(err, path));
      return;
    }
    if (mode !== null) {
      // Set the mode before listen(), so no connection is ever accepted
      // under the default umask-derived mode.
      try {
        fs.chmodSync(path, mode);
      } catch (e) {
        handle.close(); // unlinks the path we bound
        process.nextTick(emitErrorNT, this, e);
        return;
      }
    }
    if (!this._setupListenHandle(handle, path, backlog)) return;
    if (fchmodMode !== 0) {
      const e = this._handle.fchmod(fchmodMode);
      if (e) {
        this._handle.close();
        this._handle = null;
        throw errnoException(e, 'uv_pipe_chmod'); // Node throws this one from listen()
      }
    }
  }

  // Returns true when listening; listen errors are emitted on the next tick.
  _setupListenHandle(handle, address, backlog) {
    handle.onconnection = onconnection;
    handle[kOwner] = this;
    const err = handle.listen(backlog);
    if (err) {
      handle.close();
      process.nextTick(emitErrorNT, this, listenException(err, address));
      return false;
    }
    this._handle = handle;
    if (this._unref) handle.unref();
    process.nextTick(emitListeningNT, this);
    return true;
  }

  // The path exactly as passed; like Node, still reported after close() or
  // a failed listen, null before any listen.
  address() {
    if (this._pipeName !== undefined) return this._pipeName;
    return null;
  }

  close(cb) {
    if (typeof cb === 'function') {
      if (!this._handle) {
        this.once('close', function close() {
          cb(codes.ERR_SERVER_NOT_RUNNING());
        });
      } else {
        this.once('close', cb);
      }
    }
    if (this._handle) {
      // The binding unlinks the bound path as part of close.
      this._handle.close();
      this._handle = null;
    }
    this._emitCloseIfDrained();
    return this;
  }

  _emitCloseIfDrained() {
    if (this._handle || this._connections) return;
    process.nextTick(emitCloseNT, this);
  }

  getConnections(cb) {
    process.nextTick(cb, null, this._connections);
    return this;
  }

  ref() {
    this._unref = false;
    if (this._handle) this._handle.ref();
    return this;
  }

  unref() {
    this._unref = true;
    if (this._handle) this._handle.unref();
    return this;
  }
}
adoptMethods(Server, ServerMethods, EventEmitter);

function createServer(options, connectionListener) {
  return new Server(options, connectionListener);
}

/**
 * pipewrap extension: a connected pair of Sockets (AF_UNIX socketpair).
 * With `{ peer: 'fd' }` the second end is not wrapped: it comes back as a
 * plain, blocking, close-on-exec fd, ready for a child's stdio (spawn dups
 * it into the child); close the parent's copy with `closeFd(fd)` once the
 * child has it.
 */
function socketpair(options = {}) {
  if (options === null || typeof options !== 'object') throw codes.ERR_INVALID_ARG_TYPE('options', 'Object', options);
  const opts = { __proto__: null, ...options };
  const peer = opts.peer;
  delete opts.peer;
  if (peer !== undefined && peer !== 'socket' && peer !== 'fd') {
    throw codes.ERR_INVALID_ARG_VALUE('options.peer', peer, "must be 'socket' or 'fd'");
  }
  if (IS_WINDOWS) throw unixOnly('socketpair');
  if (!binding.native || typeof binding.native.socketpair !== 'function') {
    throw codes.ERR_FEATURE_UNAVAILABLE_ON_PLATFORM('socketpair (it needs the pipewrap native binding)');
  }
  const [a, b] = binding.native.socketpair();
  const make = (fd) => new Socket({ ...opts, fd, readable: true, writable: true });
  let first;
  try {
    first = make(a);
  } catch (err) {
    binding.native.closeFd(a);
    binding.native.closeFd(b);
    throw err;
  }
  if (peer === 'fd') return [first, b];
  return [first, make(b)];
}

/**
 * pipewrap extension: closes an fd pipewrap handed out (a socketpair end,
 * an fd from the 'fds' event) without going through `fs`, which warns
 * about fds it did not open inside worker threads. Returns 0 or a negative
 * errno, like the binding.
 */
function closeFd(fd) {
  if (!Number.isInteger(fd)) throw codes.ERR_INVALID_ARG_TYPE('fd', 'integer', fd);
  return binding.native.closeFd(fd);
}

// The brands (see the top of the file).
Object.defineProperty(Socket.prototype, kSocketBrand, { value: true });
// Defaults of the per-socket slots that are set only when they change (see
// the constructor); writable, so an assignment makes an own property.
Socket.prototype[kTimeout] = null;
// Kept so bytesRead/bytesWritten survive destroy() (set there).
Socket.prototype[kBytesRead] = 0;
Socket.prototype[kBytesWritten] = 0;
Socket.prototype[kFdPassing] = false;
// The write fast path's Writable bookkeeping (set once a write needs it).
Socket.prototype[kAfterWriteTick] = null;
Socket.prototype[kDirectInFlightDone] = false;
// connect({ onread }): the user's buffer (or true while a generator makes
// it), its generator and callback.
Socket.prototype[kUserBuffer] = null;
Socket.prototype[kUserBufferGen] = null;
Socket.prototype[kUserBufferCb] = null;
Object.defineProperty(Server.prototype, kServerBrand, { value: true });

module.exports = {
  socketpair,
  closeFd,
  Server,
  Socket,
  createServer,
  connect,
  createConnection: connect,
};
