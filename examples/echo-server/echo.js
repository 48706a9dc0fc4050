'use strict';
// An echo server on a Unix socket, and a client that talks to it.
// Run: node examples/echo-server/echo.js [socket-path]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pipewrap = require('../..');

const sockPath = process.argv[2] || path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'echo-')), 'echo.sock');

const server = pipewrap.createServer((socket) => {
  socket.pipe(socket); // everything read is written back
});

server.listen(sockPath, () => {
  console.log(`echo server on ${server.address()}`);
  const client = pipewrap.connect(sockPath, () => client.end('hello over a Unix socket'));
  let reply = '';
  client.setEncoding('utf8');
  client.on('data', (chunk) => (reply += chunk));
  client.on('end', () => {
    console.log(`echoed: ${reply}`);
    server.close(); // also removes the socket file
  });
});
