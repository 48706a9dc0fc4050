'use strict';
// What every framework project checks, with whichever copy of pipewrap the
// caller loaded: a server/client echo, a socketpair, and a fork whose child
// receives a server (possibly one made by another copy).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function tempSocket(tag) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pwfw-${tag}-`));
  return { dir, sock: path.join(dir, 's.sock'), cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

function listen(pw, sock) {
  const server = pw.createServer((c) => c.pipe(c));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => resolve(server));
  });
}

function echo(pw, sock, text) {
  return new Promise((resolve, reject) => {
    const c = pw.connect(sock);
    let got = '';
    c.on('error', reject);
    c.on('data', (d) => (got += d));
    c.on('end', () => resolve(got));
    c.end(text);
  });
}

function pairEcho(pw) {
  const [a, b] = pw.socketpair();
  return new Promise((resolve) => {
    b.on('data', (d) => {
      a.destroy();
      b.destroy();
      resolve(String(d));
    });
    a.write('over a socketpair');
  });
}

function sendServer(pw, server) {
  const child = pw.fork(path.join(__dirname, 'child.js'));
  return new Promise((resolve, reject) => {
    let answer;
    child.on('message', (m) => (answer = m));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(answer) : reject(new Error(`child exited ${code}`))));
    child.send('take this', server);
  });
}

function close(server) {
  return new Promise((resolve) => server.close(resolve));
}

module.exports = { tempSocket, listen, echo, pairEcho, sendServer, close };
