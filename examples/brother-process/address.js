'use strict';
// Where the brothers meet by default: a Unix socket file in the temp dir,
// or on Windows a named pipe (pipewrap's net layer takes either as `path`).
const os = require('os');
const path = require('path');

function defaultAddress() {
  if (process.platform === 'win32') return `\\\\.\\pipe\\pipewrap-brother-${os.userInfo().username}`;
  return path.join(os.tmpdir(), `pipewrap-brother-${process.getuid()}.sock`);
}

module.exports = { defaultAddress };
