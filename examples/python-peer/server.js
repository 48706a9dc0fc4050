'use strict';
// A pipewrap server answering a Python client (Python's own `socket` module),
// on a filesystem path and on a Linux abstract name with its exact length.
// Run: node examples/python-peer/server.js
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pipewrap = require('../..');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypeer-'));
const targets = [path.join(dir, 'py.sock'), `\0pipewrap-python-peer-${process.pid}`];

function serve(address) {
  return new Promise((resolve) => {
    const server = pipewrap.createServer((socket) => {
      socket.setEncoding('utf8');
      socket.once('data', (line) => socket.end(`pipewrap got ${JSON.stringify(line.trim())}\n`));
    });
    server.listen(address, () => resolve(server));
  });
}

(async () => {
  for (const address of targets) {
    const server = await serve(address);
    const client = path.join(__dirname, 'client.py');
    const name = address.startsWith('\0') ? `@${address.slice(1)}` : address;
    // Asynchronously: the server must keep running while Python talks to it.
    const stdout = await new Promise((resolve) => {
      execFile('python3', [client, name], { timeout: 10000 }, (err, out, errOut) => {
        if (err) {
          console.error(errOut || err.message);
          process.exitCode = 1;
        }
        resolve(out);
      });
    });
    console.log(`${address.startsWith('\0') ? 'abstract' : 'path'}: ${stdout.trim()}`);
    await new Promise((resolve) => server.close(resolve));
  }
  fs.rmSync(dir, { recursive: true, force: true });
})();
