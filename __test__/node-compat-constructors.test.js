'use strict';
// Socket and Server as Node's net has them: constructor functions that work
// without `new` and initialise objects of their callers' own subclasses
// (`net.Server.call(this, ...)` in Node's http, util.inherits-style code),
// so Node's http runs on them when they replace net's classes. Each check
// runs against node:net too, the oracle.

const test = require('ava');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const util = require('node:util');

const pw = require('..');
const { tmpdir } = require('./net-helpers');

const INDEX = path.join(__dirname, '..', 'lib', 'index.js');
const IMPLS = [['node:net', net], ['pipewrap', pw]];

test('Server() and Socket() without new return instances, as node:net\'s do', (t) => {
  const states = [];
  for (const [name, impl] of IMPLS) {
    const server = impl.Server(() => {});
    assert.ok(server instanceof impl.Server, `${name}: Server()`);
    assert.equal(server.listenerCount('connection'), 1, `${name}: Server(listener)`);
    const socket = impl.Socket({ allowHalfOpen: true });
    assert.ok(socket instanceof impl.Socket, `${name}: Socket()`);
    states.push([socket.readyState, socket.allowHalfOpen]);
    socket.destroy();
  }
  assert.deepEqual(states[1], states[0], 'a Socket() made without new is set up as node:net\'s');
  assert.equal(pw.Server.name, 'Server');
  assert.equal(pw.Socket.name, 'Socket');
  assert.equal(pw.Socket.prototype.constructor, pw.Socket);
  assert.equal(Object.getPrototypeOf(pw.Socket), Object.getPrototypeOf(net.Socket), 'static parent: stream.Duplex');
});

// The pre-class pattern Node's own http and tls use: a constructor function
// calls the parent constructor on its `this`.
function serveAndAsk(t, impl) {
  function EchoServer(listener) {
    impl.Server.call(this, { allowHalfOpen: false });
    this.on('connection', listener);
  }
  util.inherits(EchoServer, impl.Server);
  function Client(options) {
    impl.Socket.call(this, options);
    this.kind = 'client';
  }
  util.inherits(Client, impl.Socket);

  const sock = path.join(tmpdir(t), 's.sock');
  return new Promise((resolve, reject) => {
    const server = new EchoServer((c) => c.end('hello'));
    server.on('error', reject);
    server.listen(sock, () => {
      const client = new Client();
      let text = '';
      client.setEncoding('utf8');
      client.on('data', (d) => (text += d));
      client.on('error', reject);
      client.on('close', () => server.close(() => resolve({
        text,
        kind: client.kind,
        isSocket: client instanceof impl.Socket,
        isServer: server instanceof impl.Server,
      })));
      client.connect(sock);
    });
  });
}

test('Server.call(this) and Socket.call(this) initialise subclass objects, as node:net\'s do', async (t) => {
  const expected = { text: 'hello', kind: 'client', isSocket: true, isServer: true };
  for (const [name, impl] of IMPLS) {
    assert.deepEqual(await serveAndAsk(t, impl), expected, name);
  }
});

test('Node\'s http runs on pipewrap when net\'s Server and Socket are replaced by pipewrap\'s', (t) => {
  const dir = tmpdir(t);
  const main = path.join(dir, 'main.js');
  // stdout is a pipe here (spawnSync), so Node's stdio setup makes it a
  // net.Socket: pipewrap's, and assigns it an fd.
  fs.writeFileSync(main, `
    const net = require('node:net');
    const pw = require(${JSON.stringify(INDEX)});
    for (const k of ['createServer', 'connect', 'createConnection', 'Server', 'Socket']) net[k] = pw[k];
    net.Stream = pw.Socket;
    const http = require('node:http');
    const { Pipe } = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'binding.js'))});
    const sock = ${JSON.stringify(path.join(dir, 'h.sock'))};
    const server = http.createServer((req, res) => res.end('you asked for ' + req.url));
    server.listen(sock, () => {
      http.get({ socketPath: sock, path: '/x' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => {
          const result = {
            status: res.statusCode,
            body,
            serverIsPipewrap: server._handle instanceof Pipe,
            stdoutIsPipewrap: process.stdout instanceof pw.Socket,
            stdoutFd: process.stdout.fd,
          };
          server.close(() => console.log(JSON.stringify(result)));
        });
      });
    });
  `);
  const r = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.signal, null, `hung or crashed:\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()), {
    status: 200,
    body: 'you asked for /x',
    serverIsPipewrap: true,
    stdoutIsPipewrap: true,
    stdoutFd: 1,
  });
});

test('assigning socket.fd makes an own property, as on a node:net Socket', (t) => {
  for (const [name, impl] of IMPLS) {
    const socket = new impl.Socket();
    socket.fd = 7;
    assert.equal(socket.fd, 7, name);
    assert.ok(Object.prototype.hasOwnProperty.call(socket, 'fd'), name);
    socket.destroy();
  }
  const other = new pw.Socket();
  assert.equal(other.fd, -1, 'no handle: the getter still answers');
  other.destroy();
});

test('an abstract name with readableAll throws node:net\'s message', (t) => {
  if (process.platform !== 'linux') {
    t.pass('abstract names are Linux-only');
    return;
  }
  const messages = IMPLS.map(([, impl]) => {
    try {
      impl.createServer().listen({ path: `\0pw-abstract-${process.pid}`, readableAll: true });
    } catch (err) {
      return [err.code, err.message];
    }
    return null;
  });
  assert.notEqual(messages[0], null);
  assert.deepEqual(messages[1], messages[0]);
});

test('with net.Socket replaced by pipewrap\'s, child_process stdio pipes still work (Node\'s handles go to Node\'s Socket)', (t) => {
  const main = path.join(tmpdir(t), 'main.js');
  fs.writeFileSync(main, `
    const net = require('node:net');
    const NodeSocket = net.Socket;
    const pw = require(${JSON.stringify(INDEX)});
    net.Socket = pw.Socket;
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], { stdio: ['pipe', 'pipe', 'inherit'] });
    // Initialising a subclass's object on a handle of Node's cannot hand
    // it to Node's Socket: a clear error, not a crash.
    let subclassError = null;
    class Sub extends pw.Socket {}
    const nodeHandle = child.stdout._handle;
    try { new Sub({ handle: nodeHandle }); } catch (err) { subclassError = nodeHandle.isStreamBase && err.code; }
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.on('close', (code) => {
      console.log(JSON.stringify({
        out,
        code,
        stdinIsNodes: child.stdin instanceof NodeSocket,
        subclassError,
      }));
    });
    child.stdin.end('hello through a pipe');
  `);
  const r = spawnSync(process.execPath, [main], { encoding: 'utf8', timeout: 30000 });
  assert.equal(r.signal, null, `hung or crashed:\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()), {
    out: 'hello through a pipe',
    code: 0,
    stdinIsNodes: true,
    subclassError: 'ERR_INVALID_ARG_TYPE',
  });
});
