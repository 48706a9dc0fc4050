// ESM entry point (package.json "exports" → "import"): the CommonJS module
// (lib/index.js) as the default export, and each of its members as a named
// export, so that `import { createServer } from 'pipewrap'` works. The
// object spread in index.js hides the names from Node's static CommonJS
// export detection, hence this explicit list (__test__/node-compat-esm
// checks that it covers every member).
import pipewrap from './index.js';

export default pipewrap;
export const {
  socketpair,
  closeFd,
  Server,
  Socket,
  createServer,
  connect,
  createConnection,
  fork,
  openChannel,
  IPCChannel,
  binding,
  Pipe,
  PipeConnectWrap,
  WriteWrap,
  ShutdownWrap,
  streamBaseState,
  kReadBytesOrError,
  kArrayBufferOffset,
  kBytesWritten,
  kLastWriteWasAsync,
  constants,
} = pipewrap;
