'use strict';
// Sending handles as Node does (issue 12, items 3 and 4): an HTTP connection
// socket sent without keepOpen gives up its parser and response; dgram
// sockets can be sent (Node's 'dgram.Socket' wire type) and are re-created
// on the other end, by a plain Node child or a pipewrap channel.
const test = require('ava');
const assert = require('node:assert/strict');
const dgram = require('node:dgram');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const pw = require('..');
const binding = require('../lib/binding');
const { fixture, guard, message, opIs } = require('./fixtures/ipc-helpers');

const CHILD = fixture('compat-handles-child.js');
const T = { timeout: 30000 };

const once = (emitter, name) => new Promise((resolve) => emitter.once(name, (...args) => resolve(args)));

test('an HTTP connection socket sent without keepOpen: parser freed, response detached, child answers on it', async (t) => {
  t.timeout(T.timeout);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-http-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const p = path.join(dir, 'http.sock');
  const child = pw.fork(CHILD);
  const exited = guard(child);
  await message(child, opIs('ready'));

  const seen = {};
  const httpServer = http.createServer((req, res) => {
    const socket = req.socket;
    seen.parserBefore = socket.parser !== null && socket.parser !== undefined;
    seen.messageBefore = socket._httpMessage === res;
    child.send({ op: 'http' }, socket, (err) => { seen.sendErr = err; });
    seen.parserAfter = socket.parser;
    seen.messageAfter = socket._httpMessage;
    seen.resSocketAfter = res.socket;
  });
  const server = pw.createServer((socket) => httpServer.emit('connection', socket));
  await new Promise((resolve) => server.listen(p, resolve));

  const reportedP = message(child, opIs('http'));
  const client = pw.connect(p, () => client.write('GET / HTTP/1.1\r\nHost: pipewrap\r\n\r\n'));
  let response = '';
  client.setEncoding('latin1').on('data', (d) => { response += d; });
  await once(client, 'close');
  const reported = await reportedP;

  assert.equal(reported.gotSocket, true);
  assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(response.endsWith('\r\n\r\nchild'), response);
  assert.equal(seen.parserBefore, true);
  assert.equal(seen.messageBefore, true);
  assert.equal(seen.parserAfter, null, 'socket.parser freed, as Node does');
  assert.equal(seen.messageAfter, null, 'socket._httpMessage detached');
  assert.equal(seen.resSocketAfter, null, 'res.socket detached');
  assert.equal(seen.sendErr, null);

  child.disconnect();
  await exited;
  await new Promise((resolve) => server.close(resolve));
});

async function udpSocket(type = 'udp4') {
  const s = dgram.createSocket(type);
  await new Promise((resolve) => s.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
  return s;
}

async function echoVia(port, address = '127.0.0.1') {
  const probe = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
  const got = once(probe, 'message');
  probe.send('ping', port, address);
  const [msg] = await got;
  probe.close();
  return String(msg);
}

test('send(msg, dgram.Socket) to a plain Node child: it gets a dgram.Socket on the same port', async (t) => {
  t.timeout(T.timeout);
  const child = pw.fork(CHILD);
  const exited = guard(child);
  await message(child, opIs('ready'));
  const udp = await udpSocket();
  const port = udp.address().port;
  const sent = new Promise((resolve, reject) => child.send({ op: 'udp' }, udp, (err) => (err ? reject(err) : resolve())));
  const reply = await message(child, opIs('udp'));
  await sent;
  assert.deepEqual(reply, { op: 'udp', isDgram: true, type: 'udp4', port });
  udp.close(); // the child's copy keeps serving
  assert.equal(await echoVia(port), 'echo:ping');

  // A closed dgram socket has no handle: the bare message goes, as in Node.
  child.send({ op: 'bare' }, udp);
  assert.deepEqual(await message(child, opIs('bare')), { op: 'bare', handle: 'none' });
  child.kill(); // its UDP socket would keep it alive
  await exited;
});

test('send(msg, dgram.Socket) between two pipewrap channels: re-created on the receiving end', async (t) => {
  t.timeout(T.timeout);
  const [a, b] = binding.native.socketpair();
  const sender = pw.openChannel(a);
  const receiver = pw.openChannel(b);
  const udp = await udpSocket();
  const port = udp.address().port;
  const got = once(receiver, 'message');
  sender.send('udp', udp);
  const [msg, sock] = await got;
  assert.equal(msg, 'udp');
  assert.ok(sock instanceof dgram.Socket);
  assert.equal(sock.type, 'udp4');
  assert.equal(sock.address().port, port);
  udp.close();
  sock.on('message', (m, rinfo) => sock.send(`echo:${m}`, rinfo.port, rinfo.address));
  assert.equal(await echoVia(port), 'echo:ping');
  sock.close();
  sender.disconnect();
  receiver.disconnect();
});
