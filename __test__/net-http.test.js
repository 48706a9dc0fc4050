'use strict';
// HTTP over lib/net.js sockets: Node's http client and server treat our
// Socket as a plain Duplex.

const test = require('ava');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { executionAsyncId } = require('node:async_hooks');
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
  const inItsContext = [];
  agent.createConnection = calls.must((options) => {
    socket = net.connect(options.socketPath);
    socket.on('data', () => inItsContext.push(executionAsyncId() === socket._handle.getAsyncId()));
    return socket;
  }, 1);
  for (const [i, body] of [Buffer.alloc(0), crypto.randomBytes(300 * 1024), Buffer.from('x'), Buffer.alloc(0)].entries()) {
    const r = await request({ socketPath: p, path: `/r${i}`, method: 'POST', agent }, body);
    assert.equal(r.body.toString(), `POST /r${i} ${sha256(body)}`);
    assert.equal(r.res.req.socket, socket);
  }
  assert.equal(connections, 1, 'one connection for all four requests');
  assert.ok(socket instanceof net.Socket);
  assert.equal(typeof socket._handle.getAsyncId(), 'number');
  assert.ok(socket._handle.getAsyncId() > 0);
  assert.ok(inItsContext.length >= 4 && inItsContext.every(Boolean), 'every read in the context getAsyncId names');
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
    const onError = (err) => cb(err, null);
    s.once('error', onError);
    s.once('connect', () => {
      s.off('error', onError); // undici listens from here on
      cb(null, s);
    });
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

// HTTP/2 (gRPC's transport over Unix sockets) on pipewrap connections, both
// ways: Node's http2 wraps a socket that is not one of its own handles in a
// JS stream of its own, so only the Socket's public behaviour is used.
test('http2 over pipewrap connections: client via createConnection, server via emit(connection)', async (t) => {
  t.timeout(T.timeout);
  const http2 = require('node:http2');
  const calls = callCounter(t);
  const dir = tmpdir(t);
  const onStream = calls.must((stream, headers) => {
    collect(stream).then((body) => {
      stream.respond({ ':status': 200 });
      stream.end(`${headers[':method']} ${headers[':path']} ${sha256(body)}`);
    });
  }, 8);

  // Client side ours: Node's http2 server on a path, http2.connect over a
  // pipewrap connection.
  const nodeSide = http2.createServer();
  nodeSide.on('stream', onStream);
  const p1 = path.join(dir, 'h2a');
  await new Promise((resolve) => nodeSide.listen(p1, resolve));
  // Server side ours: a pipewrap server handing its connections to Node's
  // http2 server, http2.connect over Node's net.
  const ourSide = http2.createServer();
  ourSide.on('stream', onStream);
  const p2 = path.join(dir, 'h2b');
  const server = await listen(net.createServer(calls.must((s) => ourSide.emit('connection', s), 1)), p2);

  const big = crypto.randomBytes(700 * 1024);
  for (const createConnection of [calls.must(() => net.connect(p1), 1), () => require('node:net').connect(p2)]) {
    const session = http2.connect('http://localhost', { createConnection });
    const bodies = [Buffer.from('a'), big, Buffer.alloc(0), Buffer.from('d')];
    // Four streams at once on the one session.
    const replies = await Promise.all(bodies.map((body, i) => new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': `/s${i}` });
      req.on('error', reject);
      collect(req).then((b) => resolve(b.toString()), reject);
      req.end(body);
    })));
    replies.forEach((r, i) => assert.equal(r, `POST /s${i} ${sha256(bodies[i])}`));
    await new Promise((resolve) => session.close(resolve));
  }
  await new Promise((resolve) => nodeSide.close(resolve));
  ourSide.close();
  await closeServer(server);
});

// TLS on top of pipewrap sockets at both ends (tls.connect({ socket }) and a
// server-side TLSSocket around an accepted connection).
test('TLS over pipewrap sockets at both ends: 1 MiB each way, then both close', async (t) => {
  t.timeout(T.timeout);
  const tls = require('node:tls');
  const fs = require('node:fs');
  const calls = callCounter(t);
  const key = fs.readFileSync(path.join(__dirname, 'fixtures', 'tls-localhost.key'));
  const cert = fs.readFileSync(path.join(__dirname, 'fixtures', 'tls-localhost.crt'));
  const p = path.join(tmpdir(t), 'tls');
  let serverSaw = null;
  const serverClosed = new Promise((resolve) => {
    const server = net.createServer(calls.must((raw) => {
      const s = new tls.TLSSocket(raw, { isServer: true, key, cert });
      const chunks = [];
      s.on('data', (d) => chunks.push(d));
      // Answered from 'end' itself: a TLSSocket is not half-open, it ends
      // its own side right after (as over Node's net).
      s.on('end', () => {
        const body = Buffer.concat(chunks);
        serverSaw = sha256(body);
        s.end(Buffer.concat([Buffer.from(serverSaw), body]));
      });
      s.on('close', () => server.close(resolve));
    }, 1));
    server.listen(p, () => started());
  });
  let started;
  await new Promise((resolve) => (started = resolve));

  const payload = crypto.randomBytes(1024 * 1024);
  const c = tls.connect({ socket: net.connect(p), ca: cert, servername: 'localhost' });
  await new Promise((resolve, reject) => {
    c.once('secureConnect', resolve);
    c.once('error', reject);
  });
  assert.ok(c.authorized, 'the certificate was checked');
  c.end(payload);
  const reply = await collect(c);
  assert.equal(reply.subarray(0, 64).toString(), sha256(payload));
  assert.equal(sha256(reply.subarray(64)), sha256(payload));
  assert.equal(serverSaw, sha256(payload));
  await serverClosed;
});

// What Node's http Agent (22.23+, 24) does to a parked keep-alive socket's
// handle, done by hand so it runs on every Node: the guard it installs
// destroys the socket when bytes arrive while it is parked, and Node's own
// onStreamRead put back on reuse becomes this layer's (reads work again).
test("Node's agent guard on a pipewrap handle: parked reads destroy, the restored reader reads", async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 'guard');
  const peers = [];
  const server = await listen(net.createServer(calls.must((s) => peers.push(s), 2)), p);
  const connectOne = () => new Promise((resolve) => {
    const c = net.connect(p, () => resolve(c));
  });

  // As installFreeSocketDataGuard: handle.onread = freeSocketOnReadGuard.
  function freeSocketOnReadGuard() {
    throw new Error('a pipewrap handle must not call Node\'s guard itself');
  }
  const parked = await connectOne();
  parked._handle.onread = freeSocketOnReadGuard;
  assert.equal(parked._handle.onread, freeSocketOnReadGuard, 'the agent\'s identity check holds');
  const closed = new Promise((resolve) => parked.on('close', resolve));
  parked.on('error', () => {});
  peers[0].write('unsolicited');
  await closed;
  assert.equal(parked.destroyed, true);

  // As removeFreeSocketDataGuard: Node's own onStreamRead put back.
  function onStreamRead() {
    throw new Error('Node\'s own onStreamRead must not run on a pipewrap handle');
  }
  const reused = await connectOne();
  reused._handle.onread = freeSocketOnReadGuard;
  reused._handle.onread = onStreamRead;
  assert.notEqual(reused._handle.onread, freeSocketOnReadGuard);
  const got = new Promise((resolve) => reused.once('data', (d) => resolve(String(d))));
  peers[1].write('reply');
  assert.equal(await got, 'reply');
  reused.destroy();
  for (const s of peers) s.destroy();
  await closeServer(server);
});
