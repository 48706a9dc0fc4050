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
  // (res.socket is null once a kept-alive response has ended.)
  assert.ok(r1.res.req.socket instanceof require('node:net').Socket);
  assert.equal(r1.res.req.socket, r2.res.req.socket, 'same connection reused');
  agent.destroy();

  // Closing: http stops keeping connections; our server then drains.
  httpServer.close();
  await closeServer(server);
});

// A keep-alive agent whose connections are ours: Node's http client asks
// `socket._handle.getAsyncId()` of every socket it keeps (this threw a
// TypeError from a nextTick before pipewrap's Pipe had it).
test('a keep-alive http.Agent creating pipewrap connections reuses one socket', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 'http');
  let connections = 0;
  const server = http.createServer(calls.must(async (req, res) => {
    const body = await collect(req);
    res.end(`${req.method} ${req.url} ${sha256(body)}`);
  }, 4));
  server.on('connection', () => connections++);
  await new Promise((resolve) => server.listen(p, resolve));

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let socket = null;
  agent.createConnection = calls.must((options) => (socket = net.connect(options.socketPath)), 1);
  for (const [i, body] of [Buffer.alloc(0), crypto.randomBytes(300 * 1024), Buffer.from('x'), Buffer.alloc(0)].entries()) {
    const r = await request({ socketPath: p, path: `/r${i}`, method: 'POST', agent }, body);
    assert.equal(r.body.toString(), `POST /r${i} ${sha256(body)}`);
    assert.equal(r.res.req.socket, socket);
  }
  assert.equal(connections, 1, 'one connection for all four requests');
  assert.ok(socket instanceof net.Socket);
  assert.equal(typeof socket._handle.getAsyncId(), 'number');
  assert.ok(socket._handle.getAsyncId() > 0);
  agent.destroy();
  await new Promise((resolve) => server.close(resolve));
});

// undici (the engine under Node's fetch) with a connector that returns
// pipewrap sockets: the way a user points fetch at a Unix socket (Docker's
// API, a local service) through pipewrap.
test('undici request and fetch over pipewrap connections, pipelined on one socket', async (t) => {
  t.timeout(T.timeout);
  const { Agent, request: undiciRequest, fetch } = require('undici');
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 'http');
  let connections = 0;
  const server = http.createServer(calls.must(async (req, res) => {
    const body = await collect(req);
    res.setHeader('content-type', 'text/plain');
    res.end(`${req.method} ${req.url} ${body.length} ${sha256(body)}`);
  }, 6));
  server.on('connection', () => connections++);
  await new Promise((resolve) => server.listen(p, resolve));

  const connect = calls.must((_options, cb) => {
    const s = net.connect(p);
    s.once('connect', () => cb(null, s));
    s.once('error', (err) => cb(err, null));
  }, 1);
  const dispatcher = new Agent({ connect, connections: 1, pipelining: 4 });
  const big = crypto.randomBytes(2 * 1024 * 1024);
  const bodies = [Buffer.from('one'), big, Buffer.alloc(0), Buffer.from('four')];
  // Four requests at once: pipelined over the one connection.
  const replies = await Promise.all(bodies.map(async (body, i) => {
    const r = await undiciRequest(`http://pipewrap.local/u${i}`, { dispatcher, method: 'PUT', body });
    return [r.statusCode, await r.body.text()];
  }));
  replies.forEach(([status, text], i) => {
    assert.equal(status, 200);
    assert.equal(text, `PUT /u${i} ${bodies[i].length} ${sha256(bodies[i])}`);
  });
  const res = await fetch('http://pipewrap.local/f', { dispatcher, method: 'POST', body: 'fetched' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), `POST /f 7 ${sha256(Buffer.from('fetched'))}`);
  const got = await fetch('http://pipewrap.local/g', { dispatcher });
  assert.equal(await got.text(), `GET /g 0 ${sha256(Buffer.alloc(0))}`);
  assert.equal(connections, 1, 'every request on the one pipewrap connection');
  await dispatcher.close();
  await new Promise((resolve) => server.close(resolve));
});
