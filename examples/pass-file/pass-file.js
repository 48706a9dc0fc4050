'use strict';
// Passing an open file between processes with sendFds: the parent opens a
// file the child could not open itself (it is removed from the filesystem
// right after opening), and hands the child the open fd over a Unix socket.
// Run: node examples/pass-file/pass-file.js
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pipewrap = require('../..');

if (process.argv[2] === 'child') {
  // The child connects with fdPassing on and reads whatever file it is given.
  const sock = pipewrap.connect({ path: process.argv[3], fdPassing: true });
  sock.on('fds', ([fd]) => {
    const text = fs.readFileSync(fd, 'utf8'); // reads from the start of the open file
    fs.closeSync(fd);
    sock.end(`child read ${JSON.stringify(text)} through fd it received`);
  });
  sock.resume();
  return;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'passfile-'));
const sockPath = path.join(dir, 'fd.sock');
const filePath = path.join(dir, 'secret.txt');
fs.writeFileSync(filePath, 'only the parent could open this');

const server = pipewrap.createServer({ fdPassing: true }, (socket) => {
  const fd = fs.openSync(filePath, 'r');
  fs.unlinkSync(filePath); // gone from the filesystem; the open fd still works
  socket.sendFds([fd], 'file', () => fs.closeSync(fd)); // our copy can go now
  let reply = '';
  socket.setEncoding('utf8');
  socket.on('data', (d) => (reply += d));
  socket.on('end', () => {
    console.log(reply);
    socket.end();
    server.close(() => fs.rmSync(dir, { recursive: true, force: true }));
  });
});

server.listen(sockPath, () => {
  const child = spawn(process.execPath, [__filename, 'child', sockPath], { stdio: 'inherit' });
  child.on('exit', (code) => {
    if (code !== 0) process.exitCode = code;
  });
});
