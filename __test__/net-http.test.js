'use strict';
// HTTP over lib/net.js sockets: Node's http client and server treat our
// Socket as a plain Duplex.

const test = require('ava');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const path = require('node:path');

const net = require('../lib/net');
const { tmpdir, callCounter, listen, closeServer, collect, sha256 } = require('./net-helpers');

const T = { timeout: 20000 };

function request(options, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(options, async (res) => {
      try {
        resolve({ res, body: await collect(res) });
      } catch (e) {
        reject(e);
      }
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('http.request({ createConnection: pipewrap.connect }) against Node http on a socket path', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 'http');
  const server = http.createServer(calls.must(async (req, res) => {
    const body = await collect(req);
    res.setHeader('x-sha', sha256(body));
    res.end(`${req.method} ${req.url} ${body.length}`);
  }, 2));
  await new Promise((resolve) => server.listen(p, resolve));

  const sockets = [];
  const createConnection = calls.must(() => {
    const s = net.connect(p);
    sockets.push(s);
    return s;
  }, 2);

  const a = await request({ createConnection, path: '/hello' });
  assert.equal(a.res.statusCode, 200);
  assert.equal(a.body.toString(), 'GET /hello 0');

  const big = crypto.randomBytes(1024 * 1024);
  const b = await request({ createConnection, method: 'POST', path: '/upload' }, big);
  assert.equal(b.body.toString(), `POST /upload ${big.length}`);
  assert.equal(b.res.headers['x-sha'], sha256(big));

  assert.ok(sockets.every((s) => s instanceof net.Socket));
  await new Promise((resolve) => server.close(resolve));
});

test("Node's http server fed by our server via emit('connection') answers http.get({ socketPath })", async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 'http');
  const httpServer = http.createServer(calls.must(async (req, res) => {
    const body = await collect(req);
    assert.ok(req.socket instanceof net.Socket);
    res.end(JSON.stringify({ url: req.url, len: body.length, sha: sha256(body) }));
  }, 3));
  const server = await listen(net.createServer(calls.must((socket) => {
    httpServer.emit('connection', socket);
  }, 2)), p);

  const got = await request({ socketPath: p, path: '/one' });
  assert.equal(got.res.statusCode, 200);
  assert.deepEqual(JSON.parse(got.body), { url: '/one', len: 0, sha: sha256(Buffer.alloc(0)) });

  // Keep-alive: two requests over one connection, one with a large body.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const big = crypto.randomBytes(512 * 1024);
  const r1 = await request({ socketPath: p, path: '/two', agent, method: 'POST' }, big);
  assert.deepEqual(JSON.parse(r1.body), { url: '/two', len: big.length, sha: sha256(big) });
  const r2 = await request({ socketPath: p, path: '/three', agent });
  assert.equal(JSON.parse(r2.body).url, '/three');
  assert.equal(r1.res.socket, r2.res.socket, 'same connection reused');
  agent.destroy();

  // Closing: http stops keeping connections; our server then drains.
  httpServer.close();
  await closeServer(server);
});
