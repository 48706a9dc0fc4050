'use strict';
// fork() and openChannel() on Windows, interoperating with plain Node both
// ways: the parent under test with a plain Node child, and a plain Node
// parent with a child whose channel the implementation under test opens.
const childProcess = require('node:child_process');
const nodeNet = require('node:net');
const h = require('./harness');
const { assert, scenario, pipewrapOnly, pipeName, listen, closeServer, once, errInfo, path, FIXTURES, ENVU, IMPL } = h;

const CHILD = path.join(FIXTURES, 'ipc-child.js');
const { padOf } = require('../fixtures/ipc-check-pad');
const VALUES = ['hello', 42, -0.5, true, null, { a: [1, 2, { b: 'c' }] }, 'äöü ß 🎉', ''];

// Resolve with the first n 'message' events that match `pick`.
function messages(child, n, pick = () => true) {
  return new Promise((resolve) => {
    const got = [];
    const on = (m) => {
      if (!pick(m)) return;
      got.push(m);
      if (got.length === n) { child.off('message', on); resolve(got); }
    };
    child.on('message', on);
  });
}

// Parent and child lifecycle events, in order, up to 'exit' and then 'close'
// or 3 s without it. (Under Wine 8, Node's own ChildProcess does not always
// emit 'close' after the parent's disconnect(); the traces say so rather than
// hang.)
function lifecycle(child) {
  const events = [];
  const done = new Promise((resolve) => {
    let timer;
    child.on('disconnect', () => events.push('disconnect'));
    child.on('exit', (code, signal) => {
      events.push(`exit ${code} ${signal}`);
      timer = setTimeout(() => { events.push('no close in 3 s'); resolve(events); }, 3000);
    });
    child.on('close', (code, signal) => { clearTimeout(timer); events.push(`close ${code} ${signal}`); resolve(events); });
  });
  child.on('error', (err) => events.push(`error ${err.code}`));
  return done;
}

// The parent end: `impl.fork` (Node's child_process.fork or pipewrap.fork)
// starting the plain Node child.
function forkPlain(impl, mode, env = {}) {
  return impl.fork(CHILD, [], { serialization: mode, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, PW_CHILD: 'auto', ...env } });
}

// A plain Node parent (child_process.spawn with an 'ipc' entry) starting a
// child whose channel `side` opens: the oracle's child lets Node open it;
// the subject's child opens it itself (pipewrap.openChannel, or Node's own
// opener by hand when PIPEWRAP_WIN_IMPL=node), behind envu.exe, which takes
// NODE_CHANNEL_FD out of its environment so Node does not claim the pipe.
function spawnWithChannel(side, mode) {
  const env = { ...process.env, PIPEWRAP_IPC_MODE: mode, PIPEWRAP_IPC_FD: '3' };
  const stdio = ['ignore', 'pipe', 'pipe', 'ipc'];
  if (side === 'oracle') return childProcess.spawn(process.execPath, [CHILD], { stdio, serialization: mode, env: { ...env, PW_CHILD: 'auto' } });
  if (!ENVU) throw new Error('PIPEWRAP_WIN_ENVU is not set: run the suite with scripts/win/test.js');
  return childProcess.spawn(ENVU, ['NODE_CHANNEL_FD,NODE_CHANNEL_SERIALIZATION_MODE', process.execPath, CHILD], {
    stdio, serialization: mode, env: { ...env, PW_CHILD: IMPL === 'node' ? 'forkchild' : 'pipewrap' },
  });
}

async function conversation(child) {
  const trace = {};
  const ended = lifecycle(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d) => { stderr += d; });
  child.stdout?.resume();
  const [ready] = await messages(child, 1, (m) => m && m.ready);
  trace.ready = ready.ready;
  const echoes = messages(child, VALUES.length, (m) => m && 'echo' in m);
  const callbacks = [];
  for (const v of VALUES) trace[`send ${JSON.stringify(v)}`] = child.send(v, (err) => callbacks.push(errInfo(err)));
  trace.echoes = (await echoes).map((m) => m.echo);
  const seqs = await (() => { const p = messages(child, 200, (m) => m && typeof m.seq === 'number'); child.send({ op: 'burst', n: 200 }); return p; })();
  trace.burstInOrder = seqs.every((m, i) => m.seq === i);
  trace.callbacks = callbacks;
  trace.connectedBefore = child.connected;
  child.disconnect();
  trace.connectedAfter = child.connected;
  trace.events = await ended;
  if (stderr.trim()) trace.stderr = stderr.trim();
  return trace;
}

// Wine 8 quirk: after the parent's disconnect(), Node's own ChildProcess here
// emits 'disconnect' and 'exit' but never 'close' (its stdio ends; the close
// of the channel pipe never completes: seen in every run). On Linux, and by
// Node's documented contract, 'close' follows once stdio and the channel are
// closed. So the oracle's trace is corrected to what Node documents, said
// so in the output, and the implementation under test must emit 'close'.
function noWineCloseQuirk(trace, t) {
  if (!Array.isArray(trace.events)) return trace;
  const i = trace.events.indexOf('no close in 3 s');
  if (i < 0) return trace;
  const exit = trace.events.find((e) => e.startsWith('exit '));
  t.diagnostic(`Node's own ChildProcess emitted no 'close' after disconnect() under Wine (a Wine quirk); expecting '${exit.replace('exit', 'close')}' from the implementation under test`);
  const events = [...trace.events];
  events[i] = exit.replace('exit', 'close');
  return { ...trace, events };
}

const expectConversation = (t) => {
  assert.deepEqual(t.echoes, VALUES);
  assert.equal(t.burstInOrder, true);
  assert.deepEqual(t.callbacks, VALUES.map(() => null));
  assert.deepEqual(t.events, ['disconnect', 'exit 0 null', 'close 0 null']);
};

for (const mode of ['json', 'advanced']) {
  scenario(`fork() parent <-> plain Node child (${mode}): messages, callbacks, burst order, disconnect, exit`, async (impl) => {
    return conversation(forkPlain(impl, mode));
  }, { fixOracle: noWineCloseQuirk, expect: expectConversation, timeout: 120000 });

  scenario(`plain Node parent <-> child opening its channel (${mode}): same conversation`, async (impl, { side }) => {
    const trace = await conversation(spawnWithChannel(side, mode));
    delete trace.ready; // which opener the child used
    return trace;
    // The parent is Node's own ChildProcess in both runs: its Wine quirk is in both.
  }, { quirk: noWineCloseQuirk, expect: expectConversation, timeout: 120000 });
}

// A send() burst far beyond the pipe's buffer: the batch's memory is reused
// once the pipe has taken the bytes (tryFlush), and every message must
// still arrive intact and in order.
scenario('fork(): a parent burst arrives intact and in order', async (impl) => {
  const child = forkPlain(impl, 'json');
  const ended = lifecycle(child);
  child.stdout.resume();
  child.stderr.resume();
  await messages(child, 1, (m) => m && m.ready);
  const n = 8000; // ~2 MB
  const report = messages(child, 1, (m) => m && typeof m.checked === 'number');
  child.send({ op: 'check', n });
  for (let i = 0; i < n; i++) child.send({ i, pad: padOf(i) });
  // A child that dies (a corrupt stream is fatal to its parser) ends the
  // wait at once; one that hangs is killed, not left behind.
  const result = await h.withTimeout(Promise.race([report.then(([m]) => m), ended.then((events) => ({ exitedEarly: events }))]), 90000, 'the check report')
    .catch((err) => { child.kill(); return { error: err.message }; });
  child.disconnect();
  await ended;
  return result;
}, { expect: (t) => assert.deepEqual(t, { checked: 8000, bad: 0 }), timeout: 240000 });

scenario('fork(): exit code and the disconnect that comes with it', async (impl) => {
  const child = forkPlain(impl, 'json');
  const ended = lifecycle(child);
  child.stdout.resume();
  child.stderr.resume();
  await messages(child, 1, (m) => m && m.ready);
  child.send({ op: 'exit', code: 7 });
  const events = await ended;
  // disconnect and exit come from two sources (the pipe and the process
  // handle); their relative order is not a contract: sort.
  return { events: events.slice(0, 2).sort().concat(events.slice(2)), connected: child.connected, exitCode: child.exitCode };
}, { fixOracle: noWineCloseQuirk, expect: (t) => assert.deepEqual(t.events, ['disconnect', 'exit 7 null', 'close 7 null']), timeout: 120000 });

scenario('fork(): send() after disconnect is ERR_IPC_CHANNEL_CLOSED', async (impl) => {
  const child = forkPlain(impl, 'json');
  const ended = lifecycle(child);
  child.stdout.resume();
  child.stderr.resume();
  await messages(child, 1, (m) => m && m.ready);
  child.disconnect();
  const err = await new Promise((resolve) => child.send('late', resolve));
  const events = await ended;
  return { code: err && err.code, events };
}, { fixOracle: noWineCloseQuirk, expect: (t) => assert.equal(t.code, 'ERR_IPC_CHANNEL_CLOSED'), timeout: 120000 });

// Handle passing: Node on Windows passes TCP sockets and servers (libuv
// duplicates the socket into the child) and refuses others.
scenario('fork(): sending a TCP server and a TCP socket to a plain child', async (impl) => {
  const child = forkPlain(impl, 'json');
  const ended = lifecycle(child);
  child.stdout.resume();
  child.stderr.resume();
  await messages(child, 1, (m) => m && m.ready);
  const trace = {};
  // A TCP server (Node's net: pipewrap has no TCP; its fork sends Node's handles).
  const tcp = nodeNet.createServer();
  await listen(tcp, 0, '127.0.0.1');
  // A failed transfer shows as a trace difference, not a 60 s hang.
  const replyOr = (p) => h.withTimeout(p.then(([m]) => m), 15000, 'reply').catch(() => 'no reply in 15 s');
  const reply = replyOr(messages(child, 1, (m) => m && m.got));
  trace.serverSendCb = await new Promise((resolve) => child.send('server', tcp, (err) => resolve(errInfo(err))));
  trace.server = await reply;
  // A connected TCP socket: the child writes on it and ends it.
  const peerData = new Promise((resolve) => tcp.once('connection', (s) => h.collect(s).then((b) => resolve(String(b)))));
  const sock = nodeNet.connect(tcp.address().port, '127.0.0.1');
  await once(sock, 'connect');
  const reply2 = replyOr(messages(child, 1, (m) => m && m.got));
  trace.socketSendCb = await new Promise((resolve) => child.send('socket', sock, (err) => resolve(errInfo(err))));
  trace.socket = await reply2;
  // `sock` (the client end) is handed over; the child writes on it and ends
  // it, and the accepted end, still ours, reads that.
  trace.peerGot = await h.withTimeout(peerData, 15000, 'data from the child').catch((e) => e.message);
  sock.destroy();
  tcp.close();
  child.disconnect();
  trace.events = await ended;
  return trace;
}, {
  fixOracle: noWineCloseQuirk,
  expect: (t) => { assert.equal(t.server.got, 'Server'); assert.equal(t.socket.got, 'Socket'); },
  timeout: 120000,
});

// The other way: the child sends a TCP server and a TCP connection, the
// parent end receives them (a Node child computes its peer's pid itself).
async function handlesFromChild(child) {
  const ended = lifecycle(child);
  child.stdout.resume();
  child.stderr.resume();
  await messages(child, 1, (m) => m && m.ready);
  const received = (kind) => h.withTimeout(new Promise((resolve) => {
    const on = (m, handle) => {
      if (!m || m.handle !== kind) return;
      child.off('message', on);
      resolve([m, handle]);
    };
    child.on('message', on);
  }), 15000, `the ${kind}`).catch((e) => [e.message, null]);
  const trace = {};
  const serverMsg = received('server');
  child.send({ op: 'send-server' });
  const [m1, server] = await serverMsg;
  trace.server = server ?
    { type: server.constructor.name, listening: server.listening, samePort: server.address().port === m1.port } :
    m1;
  if (server) await closeServer(server);
  // A connection to a server of ours: the child connects and hands its end
  // over; we write on it and end it, and our accepted end reads that.
  const tcp = nodeNet.createServer();
  await listen(tcp, 0, '127.0.0.1');
  const peerData = new Promise((resolve) => tcp.once('connection', (s) => h.collect(s).then((b) => resolve(String(b)))));
  const socketMsg = received('socket');
  child.send({ op: 'send-socket', port: tcp.address().port });
  const [m2, socket] = await socketMsg;
  trace.socket = socket ? { type: socket.constructor.name, remotePort: socket.remotePort === tcp.address().port } : m2;
  if (socket) socket.end('from the parent');
  trace.peerGot = await h.withTimeout(peerData, 15000, 'data on the handed-over connection').catch((e) => e.message);
  tcp.close();
  child.disconnect();
  trace.events = await ended;
  return trace;
}

const expectHandlesFromChild = (t) => {
  assert.deepEqual(t.server, { type: 'Server', listening: true, samePort: true });
  assert.deepEqual(t.socket, { type: 'Socket', remotePort: true });
  assert.equal(t.peerGot, 'from the parent');
};

scenario('fork(): a plain child sends a TCP server and a TCP socket; the parent receives them', async (impl) => {
  return handlesFromChild(forkPlain(impl, 'json'));
}, { fixOracle: noWineCloseQuirk, expect: expectHandlesFromChild, timeout: 120000 });

scenario('child opening its channel sends a TCP server and a TCP socket to a plain Node parent', async (impl, { side }) => {
  return handlesFromChild(spawnWithChannel(side, 'json'));
  // The parent is Node's own ChildProcess in both runs: its Wine quirk is in both.
}, { quirk: noWineCloseQuirk, expect: expectHandlesFromChild, timeout: 120000 });

pipewrapOnly('fork(): a named-pipe server send is refused at the call with ERR_FEATURE_UNAVAILABLE_ON_PLATFORM, and the channel goes on', async (impl) => {
  const child = forkPlain(impl, 'json');
  const ended = lifecycle(child);
  child.stdout.resume();
  child.stderr.resume();
  await messages(child, 1, (m) => m && m.ready);
  const pipeServer = impl.createServer();
  await listen(pipeServer, pipeName('refused'));
  assert.throws(() => child.send('pipe server', pipeServer), { name: 'TypeError', code: 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM' });
  // The channel is unharmed: a plain message still goes both ways.
  const back = messages(child, 1, (m) => m && m.echo !== undefined);
  child.send({ after: 'refusal' });
  const [reply] = await back;
  assert.deepEqual(reply.echo, { after: 'refusal' });
  await closeServer(pipeServer);
  child.disconnect();
  await ended;
}, { timeout: 120000 });

// A connected named-pipe socket: libuv moves only TCP sockets, so the
// write fails (ENOTSUP) and the send callback says so; the channel goes on.
scenario('fork(): sending a named-pipe socket fails in the send callback, the channel goes on', async (impl) => {
  const child = forkPlain(impl, 'json');
  const ended = lifecycle(child);
  child.stdout.resume();
  child.stderr.resume();
  await messages(child, 1, (m) => m && m.ready);
  const server = impl.createServer((c) => c.resume());
  await listen(server, pipeName('sendpipesock'));
  const sock = impl.connect(server.address());
  await once(sock, 'connect');
  const trace = {};
  trace.sendCb = await h.withTimeout(new Promise((resolve) => child.send('pipe socket', sock, (err) => resolve(errInfo(err)))), 10000, 'send callback').catch((e) => e.message);
  const back = messages(child, 1, (m) => m && m.echo !== undefined);
  child.send({ after: 'failed send' });
  trace.echo = (await back)[0].echo;
  sock.destroy();
  await closeServer(server);
  child.disconnect();
  trace.events = await ended;
  return trace;
}, {
  fixOracle: noWineCloseQuirk,
  expect: (t) => { assert.equal(t.sendCb && t.sendCb.code, 'ENOTSUP'); assert.deepEqual(t.echo, { after: 'failed send' }); },
  timeout: 120000,
});

scenario('fork(): sending a named-pipe server (what Node on Windows does with it)', async (impl) => {
  const child = forkPlain(impl, 'json');
  const ended = lifecycle(child);
  child.stdout.resume();
  child.stderr.resume();
  await messages(child, 1, (m) => m && m.ready);
  const server = impl.createServer();
  await listen(server, pipeName('sendpipe'));
  const trace = {};
  const errors = [];
  child.on('error', (err) => errors.push(errInfo(err)));
  const reply = Promise.race([messages(child, 1, (m) => m && m.got).then(([m]) => m), h.delay(3000).then(() => 'no reply in 3 s')]);
  // Node 20 on Windows throws a TypeError from send() here (its message is
  // an accident of Node's code: "handle.setSimultaneousAccepts is not a
  // function"); the trace keeps what users can branch on: that it throws
  // synchronously, the class and the code.
  try {
    trace.sendCb = await h.withTimeout(new Promise((resolve) => child.send('pipe server', server, (err) => resolve(errInfo(err)))), 10000, 'send callback');
  } catch (err) {
    trace.threw = { name: err.name, code: err.code };
  }
  trace.reply = await reply;
  trace.errors = errors;
  await closeServer(server);
  if (child.connected) child.disconnect();
  trace.events = await ended;
  return trace;
}, {
  fixOracle: noWineCloseQuirk,
  // Node's TypeError here has no code (an accident of its code); pipewrap's
  // says ERR_FEATURE_UNAVAILABLE_ON_PLATFORM (the previous test checks it).
  // Compared: that send() throws synchronously, and a TypeError.
  quirk: (t) => (t.threw ? { ...t, threw: { name: t.threw.name } } : t),
  timeout: 120000,
});
