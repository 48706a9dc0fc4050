'use strict';
// The binding object, shaped like Node's process.binding('pipe_wrap') merged
// with process.binding('stream_wrap').
//
// PIPEWRAP_BINDING=node swaps in Node's own internal binding (Node 20, where
// process.binding still exists). Only the differential tests and development
// use it: it lets the same test run against the reference implementation.

const kReadBytesOrError = 0;
const kArrayBufferOffset = 1;
const kBytesWritten = 2;
const kLastWriteWasAsync = 3;
const constants = Object.freeze({ SOCKET: 0, SERVER: 1, IPC: 2, UV_READABLE: 1, UV_WRITABLE: 2 });

function loadNodeBinding() {
  const { Pipe, PipeConnectWrap } = process.binding('pipe_wrap');
  const sw = process.binding('stream_wrap');
  return {
    Pipe,
    PipeConnectWrap,
    WriteWrap: sw.WriteWrap,
    ShutdownWrap: sw.ShutdownWrap,
    streamBaseState: sw.streamBaseState,
  };
}

// napi-rs' generated loader takes the win32-x64-gnu binary only under a
// Node built with MinGW; the official node.exe is built with MSVC. N-API is
// one C ABI either way, so pipewrap's GNU-built Windows binary (the one it
// ships) is loaded directly when the loader found nothing.
function loadWindowsGnu() {
  if (process.platform !== 'win32' || process.arch !== 'x64') return null;
  for (const where of ['../pipewrap.win32-x64-gnu.node', 'pipewrap-win32-x64-gnu']) {
    try {
      return require(where);
    } catch {
      // try the next place
    }
  }
  return null;
}

function loadNative() {
  try {
    return require('../index.js');
  } catch (err) {
    const gnu = loadWindowsGnu();
    if (gnu) return gnu;
    // The generated loader's last attempt (a wasm fallback) hides the real
    // story; say what is missing and what to do.
    throw require('./native-error').nativeMissingError(err);
  }
}

function loadOwnBinding() {
  const native = loadNative();
  // The addon makes the request classes (plain JS classes: a JS `new` is
  // far cheaper than a native constructor, and one is made per write) once
  // per env, so every load of this layer shares them.
  const [PipeConnectWrap, WriteWrap, ShutdownWrap] = native.requestClasses();
  // One Int32Array per thread (each worker gets its own), written by the
  // addon before every onread and after every write.
  const streamBaseState = native.streamBaseState();
  // Pipe#getAsyncId asks this inside the handle's async context.
  native.setAsyncIdProbe(require('node:async_hooks').executionAsyncId);
  return {
    Pipe: native.Pipe,
    PipeConnectWrap,
    WriteWrap,
    ShutdownWrap,
    streamBaseState,
  };
}

const loaded = process.env.PIPEWRAP_BINDING === 'node' ? loadNodeBinding() : loadOwnBinding();

// A brand on pipewrap's Pipe class that another copy of this layer (or of
// the addon) recognises when a raw handle is sent.
const kPipeBrand = Symbol.for('pipewrap.Pipe');
if (process.env.PIPEWRAP_BINDING !== 'node' && !Object.hasOwn(loaded.Pipe.prototype, kPipeBrand)) {
  Object.defineProperty(loaded.Pipe.prototype, kPipeBrand, { value: true });
}

module.exports = {
  Pipe: loaded.Pipe,
  PipeConnectWrap: loaded.PipeConnectWrap,
  WriteWrap: loaded.WriteWrap,
  ShutdownWrap: loaded.ShutdownWrap,
  streamBaseState: loaded.streamBaseState,
  kReadBytesOrError,
  kArrayBufferOffset,
  kBytesWritten,
  kLastWriteWasAsync,
  constants,
  // pipewrap's own native module (extras such as socketpair, probeUnixSocket).
  // Always ours, even under PIPEWRAP_BINDING=node.
  native: loadNative(),
};
