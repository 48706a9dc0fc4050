'use strict';
// Every error pipewrap's JS layer throws or emits, in one place.
//
// The contract is Node's lib/internal/errors.js: for a code Node has, the
// same class, `code`, message text and stack header ("TypeError
// [ERR_INVALID_ARG_TYPE]: The ..."), and `toString()` giving that header.
// pipewrap's own codes (ERR_IPC_BAD_HANDLE, ERR_IPC_BAD_MESSAGE,
// ERR_IPC_MESSAGE_TOO_LARGE, ERR_PIPEWRAP_NO_SOCKETPAIR) have the same shape.
// System errors (errno) are plain Errors with `errno`, `code`, `syscall`
// (and `address`, `port`), as Node's ErrnoException, ExceptionWithHostPort
// and UVExceptionWithHostPort build them.

const util = require('util');

// ------------------------------------------------------------------ shape

function toStringWithCode() {
  return `${this.name} [${this.code}]: ${this.message}`;
}

// An error of class Base with Node's code shape. `hideFrom`: the stack starts
// at the caller of that function (Node hides its internal frames likewise).
function makeError(Base, code, message, hideFrom) {
  const err = new Base(message);
  if (typeof hideFrom === 'function' && typeof Error.captureStackTrace === 'function') {
    Error.captureStackTrace(err, hideFrom);
  }
  // The stack header is formatted from the name on first access: format it
  // once with the code in the name, as Node's errors print.
  Object.defineProperty(err, 'name', { value: `${Base.name} [${code}]`, configurable: true, writable: true });
  err.stack; // eslint-disable-line no-unused-expressions
  delete err.name;
  err.code = code;
  Object.defineProperty(err, 'toString', { value: toStringWithCode, configurable: true, writable: true });
  return err;
}

// ------------------------------------------------------------------ value formatting

const classRegExp = /^[A-Z][a-zA-Z0-9]*$/;
const kTypes = ['string', 'function', 'number', 'object', 'Function', 'Object', 'boolean', 'bigint', 'symbol'];

// "a, b, or c"
function formatList(list, word = 'and') {
  if (list.length <= 2) return list.join(` ${word} `);
  return `${list.slice(0, -1).join(', ')}, ${word} ${list[list.length - 1]}`;
}

// What Node's "Received ..." says about a value.
function describeReceived(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
      if (Object.is(value, -0)) return 'type number (-0)';
      return `type number (${value})`;
    case 'boolean':
      return `type boolean (${value})`;
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${value.name}`;
    case 'object':
      if (value.constructor && 'name' in value.constructor) return `an instance of ${value.constructor.name}`;
      return util.inspect(value, { depth: -1 });
    case 'string': {
      const shown = value.length > 28 ? `${value.slice(0, 25)}...` : value;
      return shown.includes("'") ? `type string (${JSON.stringify(shown)})` : `type string ('${shown}')`;
    }
    default:
      return `type ${typeof value} (${util.inspect(value, { colors: false })})`;
  }
}

function argKind(name) {
  return name.includes('.') ? 'property' : 'argument';
}

// "must be of type string or an instance of Buffer or URL"
function describeExpected(expected) {
  const types = [];
  const instances = [];
  const other = [];
  for (const e of Array.isArray(expected) ? expected : [expected]) {
    if (kTypes.includes(e)) types.push(e.toLowerCase());
    else if (classRegExp.test(e)) instances.push(e);
    else other.push(e);
  }
  if (instances.length > 0 && types.includes('object')) {
    types.splice(types.indexOf('object'), 1);
    instances.push('Object');
  }
  const parts = [];
  if (types.length > 0) parts.push(`${types.length > 1 ? 'one of type' : 'of type'} ${formatList(types, 'or')}`);
  if (instances.length > 0) parts.push(`an instance of ${formatList(instances, 'or')}`);
  if (other.length > 1) parts.push(`one of ${formatList(other, 'or')}`);
  else if (other.length === 1) parts.push(`${other[0].toLowerCase() !== other[0] ? 'an ' : ''}${other[0]}`);
  return parts.join(' or ');
}

function inspectShort(value) {
  const shown = util.inspect(value);
  return shown.length > 128 ? `${shown.slice(0, 128)}...` : shown;
}

// ------------------------------------------------------------------ codes
// codes.ERR_X(...args) returns the error (never throws it).

const codes = {};

function E(code, Base, message) {
  const build = function build(...args) {
    const text = typeof message === 'function' ? message(...args) : message;
    return makeError(Base, code, text, build);
  };
  Object.defineProperty(build, 'name', { value: code });
  codes[code] = build;
}

E('ERR_INVALID_ARG_TYPE', TypeError, (name, expected, actual) =>
  `The "${name}" ${argKind(name)} must be ${describeExpected(expected)}. Received ${describeReceived(actual)}`);
E('ERR_INVALID_ARG_VALUE', TypeError, (name, value, reason = 'is invalid') =>
  `The ${argKind(name)} '${name}' ${reason}. Received ${inspectShort(value)}`);
E('ERR_OUT_OF_RANGE', RangeError, (name, range, input) => {
  let received = util.inspect(input);
  if (Number.isInteger(input) && Math.abs(input) > 2 ** 32) {
    // Node groups the digits of big integers: 4_294_967_297.
    received = received.replace(/\d(?=(\d{3})+$)/g, '$&_');
  }
  return `The value of "${name}" is out of range. It must be ${range}. Received ${received}`;
});
E('ERR_MISSING_ARGS', TypeError, (...names) => {
  const wrapped = names.map((n) => (Array.isArray(n) ? n.map((a) => `"${a}"`).join(' or ') : `"${n}"`));
  return `The ${formatList(wrapped)} argument${names.length > 1 ? 's' : ''} must be specified`;
});
E('ERR_INVALID_FD_TYPE', TypeError, (type) => `Unsupported fd type: ${type}`);
E('ERR_INVALID_HANDLE_TYPE', TypeError, 'This handle type cannot be sent');
E('ERR_FEATURE_UNAVAILABLE_ON_PLATFORM', TypeError, (feature) =>
  `The feature ${feature} is unavailable on the current platform, which is being used to run Node.js`);
E('ERR_SOCKET_BAD_PORT', RangeError, (name, port) =>
  `${name} should be >= 0 and < 65536. Received ${describeReceived(port)}.`);
E('ERR_SOCKET_CONNECTING', Error, 'Socket is already connecting');
E('ERR_SOCKET_CLOSED', Error, 'Socket is closed');
E('ERR_STREAM_DESTROYED', Error, (name) => `Cannot call ${name} after a stream was destroyed`);
E('ERR_SOCKET_CLOSED_BEFORE_CONNECTION', Error, 'Socket closed before the connection was established');
E('ERR_SERVER_ALREADY_LISTEN', Error, 'Listen method has been called more than once without closing.');
E('ERR_SERVER_NOT_RUNNING', Error, 'Server is not running.');
E('ERR_IPC_CHANNEL_CLOSED', Error, 'Channel closed');
E('ERR_IPC_DISCONNECTED', Error, 'IPC channel is already disconnected');
E('ERR_IPC_ONE_PIPE', Error, 'Child process can have only one IPC pipe');
E('ERR_CHILD_CLOSED_BEFORE_REPLY', Error, 'Child closed before reply received');
E('ERR_CHILD_PROCESS_IPC_REQUIRED', Error, (name) =>
  `Forked processes must have an IPC channel, missing value 'ipc' in ${name}`);
// pipewrap's own.
E('ERR_IPC_BAD_HANDLE', Error, (detail) => `Received an unusable handle: ${detail}`);
E('ERR_IPC_BAD_MESSAGE', Error, (mode, cause) => `Malformed IPC message (${mode}): ${cause && cause.message}`);
E('ERR_IPC_MESSAGE_TOO_LARGE', RangeError, (size, max, mode) =>
  `IPC message of ${size} bytes or more exceeds maxMessageSize (${max} bytes, ${mode} serialization)`);
E('ERR_PIPEWRAP_NO_SOCKETPAIR', Error, 'The native binding has no socketpair()');

// ------------------------------------------------------------------ system errors

function systemErrorName(errno) {
  try {
    return util.getSystemErrorName(errno);
  } catch {
    return `Unknown system error ${errno}`;
  }
}

let uvErrmap;
let uvCodes;
/**
 * libuv's (negative) code for an error name, on this platform: the errno
 * negated on Unix, libuv's own numbers on Windows (os.constants.errno holds
 * the CRT's there, which libuv does not return).
 */
function uvCode(name) {
  if (uvCodes === undefined) {
    if (uvErrmap === undefined) uvErrmap = util.getSystemErrorMap();
    uvCodes = new Map();
    for (const [code, [n]] of uvErrmap) uvCodes.set(n, code);
  }
  const code = uvCodes.get(name);
  if (code === undefined) throw new Error(`pipewrap: libuv has no error named ${name}`);
  return code;
}

function systemErrorMessage(errno) {
  // getSystemErrorMap() builds a fresh Map on every call: fetch it once.
  if (uvErrmap === undefined) uvErrmap = util.getSystemErrorMap();
  const entry = uvErrmap.get(errno);
  return entry ? entry[1] : 'unknown error';
}

// The stack of a system error starts at the caller of `hideFrom` (default:
// the builder itself), as Node's start where its binding called back.
function hideFrames(err, hideFrom) {
  if (typeof Error.captureStackTrace === 'function') Error.captureStackTrace(err, hideFrom);
}

// Node's ErrnoException: "<syscall> <CODE>[ <original>]".
function errnoException(errno, syscall, original, hideFrom = errnoException) {
  const code = systemErrorName(errno);
  const err = new Error(original ? `${syscall} ${code} ${original}` : `${syscall} ${code}`);
  hideFrames(err, hideFrom);
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  return err;
}

// Node's ExceptionWithHostPort for a pipe ("connect ENOENT /path"; no port).
// `suffix`: pipewrap's explanation appended to the message, if any.
function exceptionWithHostPort(errno, syscall, address, suffix = '', hideFrom = exceptionWithHostPort) {
  const code = systemErrorName(errno);
  const err = new Error(`${syscall} ${code}${address ? ` ${address}` : ''}${suffix}`);
  hideFrames(err, hideFrom);
  err.errno = errno;
  err.code = code;
  err.syscall = syscall;
  err.address = address;
  return err;
}

// Node's UVExceptionWithHostPort as net uses it for pipes: "listen
// EADDRINUSE: address already in use /path", port -1 (set, not printed).
function uvExceptionWithHostPort(errno, syscall, address, suffix = '', hideFrom = uvExceptionWithHostPort) {
  const code = systemErrorName(errno);
  const err = new Error(`${syscall} ${code}: ${systemErrorMessage(errno)}${address ? ` ${address}` : ''}${suffix}`);
  hideFrames(err, hideFrom);
  err.code = code;
  err.errno = errno;
  err.syscall = syscall;
  err.address = address;
  err.port = -1;
  return err;
}

module.exports = {
  codes,
  errnoException,
  exceptionWithHostPort,
  uvExceptionWithHostPort,
  describeReceived,
  uvCode,
};
