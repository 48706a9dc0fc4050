'use strict';
// pipewrap's public entry point: the net-style layer, the IPC layer and the
// binding (also reachable as `binding`).

const binding = require('./binding');
const net = require('./net');

// The IPC layer (fork, openChannel, IPCChannel) is loaded on first use: a
// CommonJS program that only uses sockets does not compile it (about half
// of the library's code, 250 kB of V8 old space and ~5 ms at start-up).
// lib/index.mjs names every member, so an ESM import loads it at once.
let ipc = null;
const loadIpc = () => (ipc ??= require('./ipc'));
const lazy = (name) => ({ enumerable: true, configurable: true, get: () => loadIpc()[name] });

module.exports = Object.defineProperties({
  ...net,
  binding,
  Pipe: binding.Pipe,
  PipeConnectWrap: binding.PipeConnectWrap,
  WriteWrap: binding.WriteWrap,
  ShutdownWrap: binding.ShutdownWrap,
  streamBaseState: binding.streamBaseState,
  kReadBytesOrError: binding.kReadBytesOrError,
  kArrayBufferOffset: binding.kArrayBufferOffset,
  kBytesWritten: binding.kBytesWritten,
  kLastWriteWasAsync: binding.kLastWriteWasAsync,
  constants: binding.constants,
}, {
  fork: lazy('fork'),
  openChannel: lazy('openChannel'),
  IPCChannel: lazy('IPCChannel'),
});
