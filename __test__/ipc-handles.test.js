'use strict';
// Handle passing over the channel: servers and sockets each way, between
// pipewrap (fork/openChannel + lib/net.js) and plain Node processes.
const test = require('ava');
const assert = require('node:assert');
const net = require('net');
const os = require('os');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { fork } = require('../lib/ipc');
const pw = require('../lib/net');
const binding = require('../lib/binding');
const { fixture, guard, events, message, opIs, spawnNodeParentChannel } = require('./fixtures/ipc-helpers');

const NODE_CHILD = fixture('ipc-node-handles-child.js');
const OPEN_CHILD = fixture('ipc-open-handles-child.js');
const OUR_BINDING = process.env.PIPEWRAP_BINDING !== 'node';
const T = { timeout: 60000 };

const abstractName = () => `\0pw-ipc-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;

// Read everything a client gets until the server ends the connection.
function readAll(socket) {
  return new Promise((resolve, reject) => {
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => { data += d; });
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

function pwConnect(name) {
  const s = new pw.Socket();
  s.connect(name);
  return s;
}

async function startChild(mode = 'json') {
  const child = fork(NODE_CHILD, { serialization: mode });
  const exited = guard(child);
  await message(child, opIs('ready'));
  return { child, exited };
}

for (const mode of ['json', 'advanced']) {
  test(`fork (${mode}): pipewrap Server -> Node child serves it`, async (t) => {
    t.timeout(T.timeout);
    const { child, exited } = await startChild(mode);
    const name = abstractName();
    const server = new pw.Server((s) => s.end('parent'));
    await new Promise((resolve) => server.listen(name, resolve));
    assert.strictEqual(child.send({ op: 'serve', tag: 'child' }, server), true);
    const serving = await message(child, opIs('serving'));
    assert.deepStrictEqual(serving, { op: 'serving', type: 'Server', listening: true, isNodeNet: true });
    await new Promise((resolve) => server.close(resolve)); // abstract: nothing unlinked
    for (let i = 0; i < 3; i++) {
      assert.strictEqual(await readAll(pwConnect(name)), `child:${child.pid}`);
    }
    child.kill();
    await exited;
  });
}

test('fork: Node net.Server on TCP 127.0.0.1:0 -> Node child serves it', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild();
  const server = net.createServer((s) => s.end('parent'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  child.send({ op: 'serve', tag: 'tcpchild' }, server);
  assert.strictEqual((await message(child, opIs('serving'))).isNodeNet, true);
  await new Promise((resolve) => server.close(resolve));
  assert.strictEqual(await readAll(net.connect(port, '127.0.0.1')), `tcpchild:${child.pid}`);
  child.kill();
  await exited;
});

test('fork: Node child -> parent TCP net.Server (received as a Node net.Server)', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild();
  child.send({ op: 'give-tcp-server', tag: 'child' });
  const [[msg, server]] = await events(child, 'message', 1, opIs('tcp-server'));
  assert.ok(server instanceof net.Server, 'a Node net.Server');
  assert.strictEqual(server.listening, true);
  server.on('connection', (s) => s.end('parent-copy'));
  child.send({ op: 'close-tcp-server' });
  await message(child, opIs('tcp-closed'));
  assert.strictEqual(await readAll(net.connect(msg.port, '127.0.0.1')), 'parent-copy');
  await new Promise((resolve) => server.close(resolve));
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: accepted pipewrap Socket -> Node child; detached here, closed after ACK', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild();
  const name = abstractName();
  let sent;
  let raw;
  const server = new pw.Server((socket) => {
    sent = socket;
    raw = socket._handle;
    child.send({ op: 'take-socket', text: 'child got socket' }, socket);
    assert.strictEqual(socket._handle, null, 'handle detached from the parent socket');
  });
  await new Promise((resolve) => server.listen(name, resolve));
  const data = readAll(pwConnect(name));
  const took = await message(child, opIs('took'));
  assert.deepStrictEqual([took.type, took.isNodeNet], ['Socket', true]);
  assert.strictEqual(await data, 'child got socket');
  assert.ok(sent);
  // The ACK came before 'took': our copy of the fd is closed by now.
  assert.ok(raw.fd < 0, `parent's handle still open (fd ${raw.fd})`);
  server.close();
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: send(socket, { keepOpen: true }) leaves the parent socket usable', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild();
  const name = abstractName();
  const server = new pw.Server((socket) => {
    child.send({ op: 'take-socket-keep', text: 'A' }, socket, { keepOpen: true });
    message(child, opIs('took')).then(() => {
      assert.ok(socket._handle, 'still has its handle');
      socket.end('B');
    });
  });
  await new Promise((resolve) => server.listen(name, resolve));
  assert.strictEqual(await readAll(pwConnect(name)), 'AB');
  server.close();
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: Node child -> parent accepted unix socket (pipewrap Socket), getConnections across', async (t) => {
  t.timeout(T.timeout);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-ipc-'));
  const { child, exited } = await startChild();
  try {
    child.send({ op: 'give-socket', path: path.join(dir, 's.sock') });
    const [[, socket]] = await events(child, 'message', 1, opIs('socket-for-you'));
    assert.ok(socket instanceof pw.Socket, `got ${socket && socket.constructor.name}`);
    let got = '';
    child.send({ op: 'client-write', text: 'ping-from-child-client' });
    socket.setEncoding('utf8');
    await new Promise((resolve) => socket.on('data', (d) => {
      got += d;
      if (got === 'ping-from-child-client') resolve();
    }));
    child.send({ op: 'count' });
    assert.deepStrictEqual(await message(child, opIs('count')), { op: 'count', n: 1, err: null });
    socket.end('pong');
    assert.strictEqual((await message(child, opIs('client-got'))).data, 'pong');
    await new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', resolve)));
    child.send({ op: 'count' });
    assert.deepStrictEqual(await message(child, opIs('count')), { op: 'count', n: 0, err: null });
    child.kill();
    await exited;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("fork: raw binding Pipe as 'net.Native'", async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild();
  const [fd0, fd1] = binding.native.socketpair();
  const raw = new binding.Pipe(binding.constants.SOCKET);
  assert.strictEqual(raw.open(fd0), 0);
  const ours = new pw.Socket({ fd: fd1, readable: true, writable: true });
  const data = readAll(ours);
  child.send({ op: 'native', text: 'native hello' }, raw);
  const done = await message(child, opIs('native-done'));
  assert.strictEqual(done.isNodeNetHandle, true);
  raw.close(); // not a net.Socket: ours to close
  assert.strictEqual(await data, 'native hello');
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: sends queue behind an unacknowledged handle; send() return values', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild();
  const name = abstractName();
  const server = new pw.Server();
  await new Promise((resolve) => server.listen(name, resolve));
  const r = [];
  r.push(child.send({ op: 'serve', tag: 'q' }, server));
  r.push(child.send('after-1'));
  r.push(child.send('after-2'));
  r.push(child.send('after-3'));
  assert.deepStrictEqual(r, [true, true, false, false]);
  // Queued or not, an unserializable message throws at send() time.
  assert.throws(() => child.send({ big: 1n }), TypeError);
  const got = await events(child, 'message', 4);
  assert.deepStrictEqual(got.map((e) => e[0].op || e[0].echo), ['serving', 'after-1', 'after-2', 'after-3']);
  server.close();
  child.kill();
  await exited;
});

const rawPeer = (mode) => fork(fixture('ipc-fd-peer.js'), ['3', mode], {
  // env -u: keep Node in the peer from claiming fd 3 itself.
  execPath: '/usr/bin/env', execArgv: ['-u', 'NODE_CHANNEL_FD', process.execPath],
});

// Serial: process.once('warning') takes the first warning of this thread,
// whichever test emitted it.
test.serial('fork: NACKed handle is retransmitted 3 times, then later sends go out', async (t) => {
  t.timeout(T.timeout);
  const peer = rawPeer('nack-all');
  const exited = guard(peer);
  const warned = new Promise((resolve) => process.once('warning', resolve));
  const name = abstractName();
  const server = new pw.Server();
  await new Promise((resolve) => server.listen(name, resolve));
  peer.send('before');
  peer.send({ h: 1 }, server);
  peer.send('queued');
  peer.send({ op: 'report' });
  const report = await message(peer, opIs('report'));
  assert.strictEqual(report.handles, 4, 'one send + 3 retransmissions');
  assert.strictEqual(report.fds, 4, 'an fd came with every try');
  assert.deepStrictEqual(report.lines, [
    '"before"', 'handle:{"h":1}', 'handle:{"h":1}', 'handle:{"h":1}', 'handle:{"h":1}', '"queued"',
  ]);
  assert.strictEqual((await warned).name, 'SentHandleNotReceivedWarning');
  server.close();
  peer.disconnect();
  await exited;
});

test('fork: NODE_HANDLE without an fd -> NACK, no message; channel continues', async (t) => {
  t.timeout(T.timeout);
  const peer = rawPeer('no-fd');
  const exited = guard(peer);
  const seen = [];
  peer.on('error', (err) => seen.push(`error ${err.code}`));
  peer.on('message', (m, h) => seen.push(typeof m === 'string' ? `message ${m} ${h}` : `message ${m.op}`));
  const replies = await message(peer, opIs('replies'));
  assert.deepStrictEqual(replies.lines, ['NODE_HANDLE_NACK']);
  assert.deepStrictEqual(seen, ['message after undefined', 'message replies']);
  peer.disconnect();
  await exited;
});

(!OUR_BINDING && "Node's binding aborts the process on a non-socket fd" ? test.skip : test)('fork: peer sends a non-socket fd -> NACK + ERR_IPC_BAD_HANDLE; channel continues', async (t) => {
  t.timeout(T.timeout);
  const peer = rawPeer('bad-fd');
  const exited = guard(peer);
  const seen = [];
  peer.on('error', (err) => seen.push(`error ${err.code}`));
  peer.on('message', (m, h) => seen.push(typeof m === 'string' ? `message ${m} ${h}` : `message ${m.op}`));
  const replies = await message(peer, opIs('replies'));
  assert.deepStrictEqual(replies.lines, ['NODE_HANDLE_NACK', 'NODE_HANDLE_NACK']);
  assert.deepStrictEqual(seen, ['error ERR_IPC_BAD_HANDLE', 'message after undefined', 'message replies']);
  assert.strictEqual(peer.connected, true);
  peer.disconnect();
  await exited;
});

// ------------------------------------------------ Node parent, openChannel child

async function startOpenChild(mode = 'json') {
  const child = spawnNodeParentChannel(OPEN_CHILD, { mode });
  const exited = guard(child);
  await message(child, opIs('ready'));
  return { child, exited };
}

test('Node parent: net.Server (unix) -> openChannel child gets a pipewrap Server', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startOpenChild();
  const name = abstractName(); // bound by Node: Node clients (padding differs)
  const server = net.createServer((s) => s.end('parent'));
  await new Promise((resolve) => server.listen(name, resolve));
  const kinds = events(child, 'message', 2, (m) => opIs('serving')(m) || opIs('kind')(m));
  child.send({ op: 'serve', tag: 'openchild' }, server);
  const [[serving], [kind]] = await kinds;
  assert.deepStrictEqual([serving.listening, serving.isNodeNet, kind.isPipewrap], [true, false, true]);
  await new Promise((resolve) => server.close(resolve));
  assert.strictEqual(await readAll(net.connect(name)), `openchild:${child.pid}`);
  child.kill();
  await exited;
});

test('Node parent: accepted net.Socket (unix) -> openChannel child gets a pipewrap Socket', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startOpenChild('advanced');
  const name = abstractName();
  const server = net.createServer((socket) => {
    child.send({ op: 'take-socket', text: 'openchild got socket' }, socket);
  });
  await new Promise((resolve) => server.listen(name, resolve));
  const kind = message(child, opIs('kind'));
  assert.strictEqual(await readAll(net.connect(name)), 'openchild got socket');
  assert.strictEqual((await kind).isPipewrap, true);
  server.close();
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('Node parent: TCP net.Server -> openChannel child gets a Node net.Server', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startOpenChild();
  const server = net.createServer((s) => s.end('parent'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  child.send({ op: 'serve', tag: 'opentcp' }, server);
  const serving = await message(child, opIs('serving'));
  assert.deepStrictEqual([serving.isNodeNet, serving.listening], [true, true]);
  await new Promise((resolve) => server.close(resolve));
  assert.strictEqual(await readAll(net.connect(port, '127.0.0.1')), `opentcp:${child.pid}`);
  child.kill();
  await exited;
});

test('openChannel child -> Node parent: pipewrap Server arrives as net.Server', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startOpenChild();
  const name = abstractName(); // bound by pipewrap: pipewrap clients
  child.send({ op: 'give-pw-server', name });
  const [[, server]] = await events(child, 'message', 1, opIs('pw-server'));
  assert.ok(server instanceof net.Server && server.listening);
  server.on('connection', (s) => s.end('node-parent-copy'));
  child.send({ op: 'close-pw-server' });
  await message(child, opIs('pw-closed'));
  assert.strictEqual(await readAll(pwConnect(name)), 'node-parent-copy');
  server.close();
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: Node child -> parent accepted TCP socket arrives as a Node net.Socket', async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild('advanced');
  child.send({ op: 'give-socket', tcp: true });
  const [[, socket]] = await events(child, 'message', 1, opIs('socket-for-you'));
  assert.ok(socket instanceof net.Socket, `got ${socket && socket.constructor.name}`);
  child.send({ op: 'client-write', text: 'tcp-ping' });
  let got = '';
  socket.setEncoding('utf8');
  await new Promise((resolve) => socket.on('data', (d) => {
    got += d;
    if (got === 'tcp-ping') resolve();
  }));
  socket.end('tcp-pong');
  assert.strictEqual((await message(child, opIs('client-got'))).data, 'tcp-pong');
  child.kill();
  await exited;
});

test("fork: Node net.Server's socket -> Node child; server.getConnections()/close() ask the child", async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild();
  const server = net.createServer((socket) => {
    child.send({ op: 'hold-socket' }, socket);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect(server.address().port, '127.0.0.1');
  const clientData = readAll(client);
  assert.strictEqual((await message(child, opIs('holding'))).type, 'Socket');
  const count = () => new Promise((resolve, reject) =>
    server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
  assert.strictEqual(await count(), 1, 'counted in the child');
  const closed = new Promise((resolve) => server.close(resolve)); // waits for the child's socket
  let serverClosed = false;
  closed.then(() => { serverClosed = true; });
  const heldClosed = message(child, opIs('held-closed'));
  child.send({ op: 'end-held', text: 'bye from child' });
  await heldClosed;
  await closed;
  assert.strictEqual(serverClosed, true);
  assert.strictEqual(await clientData, 'bye from child');
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test("fork: raw TCP handle ('net.Native') from a Node child -> a Node TCP handle here", async (t) => {
  t.timeout(T.timeout);
  const { child, exited } = await startChild();
  child.send({ op: 'give-tcp-native' });
  const [[msg, handle]] = await events(child, 'message', 1, opIs('tcp-native'));
  const { TCP } = process.binding('tcp_wrap');
  assert.ok(handle instanceof TCP, `got ${handle && handle.constructor.name}`);
  const server = net.createServer((s) => s.end('raw-tcp-parent'));
  await new Promise((resolve) => server.listen(handle, resolve));
  child.send({ op: 'close-tcp-server' });
  await message(child, opIs('tcp-closed'));
  assert.strictEqual(await readAll(net.connect(msg.port, '127.0.0.1')), 'raw-tcp-parent');
  await new Promise((resolve) => server.close(resolve));
  child.disconnect();
  assert.strictEqual((await exited).code, 0);
});

test('fork: disconnect() while a handle awaits its ACK flushes the queue first', async (t) => {
  t.timeout(T.timeout);
  const child = fork(NODE_CHILD, { silent: true });
  const exited = guard(child);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  await message(child, opIs('ready'));
  const [fd0, fd1] = binding.native.socketpair();
  const raw = new binding.Pipe(binding.constants.SOCKET);
  assert.strictEqual(raw.open(fd0), 0);
  const ours = new pw.Socket({ fd: fd1, readable: true, writable: true });
  const data = readAll(ours);
  child.send({ op: 'native', text: 'via native' }, raw);
  child.send({ op: 'print', text: 'queued-then-flushed' });
  const disconnected = events(child, 'disconnect');
  child.disconnect();
  assert.strictEqual(child.connected, false);
  assert.strictEqual(child.send('refused', () => {}), false);
  await disconnected;
  raw.close();
  assert.strictEqual(await data, 'via native');
  const r = await exited;
  assert.deepStrictEqual([r.code, r.timedOut], [0, false]);
  await new Promise((resolve) => (child.stdout.readableEnded ? resolve() : child.stdout.once('end', resolve)));
  assert.strictEqual(out, 'queued-then-flushed');
});
