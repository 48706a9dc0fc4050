'use strict';
// A Docker-style API socket: Node's http server fed by a pipewrap server,
// queried with http.request({ createConnection }) and, when installed, curl.
// Run: node examples/http-over-uds/server.js
const http = require('node:http');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pipewrap = require('../..');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'api-'));
const sockPath = path.join(dir, 'api.sock');

const api = http.createServer((req, res) => {
  const body = JSON.stringify({ method: req.method, url: req.url, version: '1.0' });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});

// pipewrap accepts; Node's HTTP machinery speaks the protocol.
const server = pipewrap.createServer((socket) => api.emit('connection', socket));

server.listen({ path: sockPath, mode: 0o660 }, () => {
  const req = http.request(
    { path: '/v1/info', createConnection: () => pipewrap.connect(sockPath) },
    (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => {
        console.log(`http.request: ${res.statusCode} ${data}`);
        // curl runs asynchronously: the server must keep accepting meanwhile.
        execFile('curl', ['-s', '--unix-socket', sockPath, 'http://localhost/v1/containers'], (err, stdout) => {
          console.log(err && err.code === 'ENOENT' ? 'curl: not installed' : `curl: ${err ? err.message : stdout}`);
          server.close(() => fs.rmSync(dir, { recursive: true, force: true }));
        });
      });
    },
  );
  req.end();
});
