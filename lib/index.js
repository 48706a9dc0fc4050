'use strict';
// pipewrap's public entry point: the net-style layer, the IPC layer and the
// binding (also reachable as `binding`).

const binding = require('./binding');
const net = require('./net');
const ipc = require('./ipc');

module.exports = {
  ...net,
  ...ipc,
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
};
