'use strict';
// pipewrap's public entry point: the net-style layer, the IPC layer and the
// binding (also reachable as `binding`).

const binding = require('./binding');
const net = require('./net');

// The IPC layer (fork, openChannel, IPCChannel) is loaded on first use: a
// CommonJS program that only uses sockets does not compile it (about half
// of the library's code, 250 kB of V8 old space and ~5 ms at start-up).
// lib/index.mjs names every member, so an ESM import loads it at once.
// Until then each of the three is an accessor that, read or assigned,
// becomes a plain writable data property (so `pw.fork = stub` and stubbing
// libraries that wrap data properties work as they did).
const IPC_NAMES = ['fork', 'openChannel', 'IPCChannel'];
let ipc = null;
const loadIpc = () => (ipc ??= require('./ipc'));
function settle(target, name, value) {
  Object.defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true });
  return value;
}
const lazy = (name) => ({
  enumerable: true,
  configurable: true,
  get() {
    return settle(api, name, loadIpc()[name]);
  },
  set(value) {
    settle(this, name, value);
  },
});

// Members in the order they always had: the net layer, the IPC layer, then
// the binding's.
const api = { ...net };
for (const name of IPC_NAMES) Object.defineProperty(api, name, lazy(name));
Object.assign(api, {
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
});
module.exports = api;
