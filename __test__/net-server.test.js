'use strict';
// Server behaviour of lib/net.js: lifecycle, addresses, permissions,
// connection limits, handle/fd adoption, stale-socket reclaiming.

const test = require('ava');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const net = require('../lib/net');
const binding = require('../lib/binding');
const {
  tmpdir, abstractName, callCounter, once, expectError, listen, closeServer, collect,
  runScript, spawnReady, NET,
} = require('./net-helpers');

const T = { timeout: 20000 };

function echoServer(opts) {
  return net.createServer(opts, (s) => s.pipe(s));
}

async function roundTrip(p, msg = 'ping') {
  const c = net.connect(p);
  c.end(msg);
  return (await collect(c)).toString();
}

test('listen/close lifecycle: listening flag, file created and unlinked, close(cb) errors when not running', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  const server = echoServer();
  assert.equal(server.listening, false);
  assert.equal(server.address(), null);

  const ret = server.listen(p, 100, calls.must(function () {
    assert.equal(this, server);
  }));
  assert.equal(ret, server);
  assert.equal(server.listening, true); // synchronous, like Node
  server.on('listening', calls.must());
  await once(server, 'listening');
  assert.ok(fs.lstatSync(p).isSocket());
  assert.equal(await roundTrip(p), 'ping');

  assert.throws(() => server.listen(p), { code: 'ERR_SERVER_ALREADY_LISTEN' });

  server.on('close', calls.must(() => {}, 2));
  await new Promise((resolve) => server.close(calls.must((err) => {
    assert.equal(err, undefined);
    resolve();
  })));
  assert.equal(server.listening, false);
  assert.equal(fs.existsSync(p), false, 'socket file unlinked by close');

  // A second close: the callback gets ERR_SERVER_NOT_RUNNING.
  const [err] = await new Promise((resolve) => server.close((...a) => resolve(a)));
  assert.equal(err.code, 'ERR_SERVER_NOT_RUNNING');
  assert.equal(err.message, 'Server is not running.');

  // Nothing listens any more.
  const c = net.connect(p);
  assert.equal((await expectError(c, 'connect')).code, 'ENOENT');
});

test("'close' waits for open connections; the closed server accepts nothing new", async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  const events = [];
  let serverSide;
  const server = await listen(net.createServer((s) => {
    serverSide = s;
    s.resume();
  }), p);
  const client = net.connect(p);
  await once(client, 'connect');
  await new Promise((resolve) => { const poll = () => (serverSide ? resolve() : setImmediate(poll)); poll(); });

  // Like Node, the server's 'close' follows the last connection's destroy()
  // (the socket's own 'close' comes a loop turn later, from the handle).
  server.on('close', () => events.push(`server close (socket destroyed: ${serverSide.destroyed})`));
  server.close();
  // Connections still work after close() until they end.
  assert.equal(fs.existsSync(p), false);
  assert.equal((await expectError(net.connect(p), 'connect')).code, 'ENOENT');
  for (let i = 0; i < 10; i++) await new Promise(setImmediate);
  assert.deepEqual(events, []);

  client.end();
  await once(server, 'close');
  assert.deepEqual(events, ['server close (socket destroyed: true)']);
});

test('address() returns the path exactly as passed (absolute and relative)', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  const p = path.join(dir, 'abs.sock');
  const server = await listen(echoServer(), p);
  assert.equal(server.address(), p);
  await closeServer(server);
  // Like Node, the name is still reported after close.
  assert.equal(server.address(), p);

  // Relative: run where cwd is the temp dir.
  const r = await runScript(`
    const fs = require('fs');
    const server = net.createServer((s) => s.pipe(s)).listen('./rel.sock', () => {
      const addr = server.address();
      const isSock = fs.lstatSync('rel.sock').isSocket();
      const c = net.connect('rel.sock');
      c.setEncoding('utf8');
      let got = '';
      c.on('data', (d) => { got += d; });
      c.on('end', () => {
        console.log(JSON.stringify({ addr, isSock, got }));
        server.close();
      });
      c.end('relative');
    });
  `, { cwd: dir, timeout: 10000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { addr: './rel.sock', isSock: true, got: 'relative' });
});

test('abstract names work, create no file and are released on close', async (t) => {
  t.timeout(T.timeout);
  const name = abstractName();
  const server = await listen(echoServer(), name);
  assert.equal(server.address(), name);
  assert.equal(server.address()[0], '\0');
  // The kernel lists it with a leading '@'.
  const table = fs.readFileSync('/proc/net/unix', 'utf8');
  assert.ok(table.includes(`@${name.slice(1)}`), 'abstract name is bound');
  assert.equal(await roundTrip(name, 'abstract'), 'abstract');
  await closeServer(server);

  // Released: the same name can be bound again.
  const again = await listen(echoServer(), name);
  assert.equal(await roundTrip({ path: name }, 'again'), 'again');
  await closeServer(again);

  // readableAll/writableAll/mode make no sense without a file.
  assert.throws(() => net.createServer().listen({ path: name, readableAll: true }), {
    code: 'ERR_INVALID_ARG_VALUE',
    message: /readableAll or writableAll/,
  });
  assert.throws(() => net.createServer().listen({ path: name, writableAll: true }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => net.createServer().listen({ path: name, mode: 0o600 }), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('getConnections, maxConnections and drop', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  const accepted = [];
  const server = await listen(net.createServer(calls.must((s) => { accepted.push(s); s.resume(); }, 2)), p);
  server.maxConnections = 2;
  const dropped = new Promise((resolve) => server.on('drop', calls.must((data) => {
    assert.equal(data, undefined); // pipes have no addresses to report
    resolve();
  })));

  const clients = [];
  for (let i = 0; i < 2; i++) {
    const c = net.connect(p);
    clients.push(c);
    await once(c, 'connect');
  }
  await new Promise((resolve) => { const poll = () => (accepted.length === 2 ? resolve() : setImmediate(poll)); poll(); });

  // The third connection is accepted by the kernel, then closed by us.
  const third = net.connect(p);
  third.on('error', () => {}); // ECONNRESET is fine too
  third.resume();
  await dropped;
  await once(third, 'close');

  let [err, count] = await new Promise((resolve) => server.getConnections((...a) => resolve(a)));
  assert.equal(err, null);
  assert.equal(count, 2);

  clients[0].destroy();
  await once(accepted[0], 'close');
  [err, count] = await new Promise((resolve) => server.getConnections((...a) => resolve(a)));
  assert.equal(count, 1);

  clients[1].end();
  await closeServer(server);
});

test('default mode follows umask; readableAll+writableAll give 0777; mode sets it exactly before listen', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  const umask = process.umask();

  const p0 = path.join(dir, 'def');
  const s0 = await listen(echoServer(), p0);
  assert.equal(fs.statSync(p0).mode & 0o777, 0o777 & ~umask);
  await closeServer(s0);

  const p1 = path.join(dir, 'all');
  const s1 = await listen(echoServer(), { path: p1, readableAll: true, writableAll: true });
  assert.equal(fs.statSync(p1).mode & 0o777, 0o777);
  assert.equal(await roundTrip(p1), 'ping');
  await closeServer(s1);

  const p2 = path.join(dir, 'rd');
  const s2 = await listen(echoServer(), { path: p2, readableAll: true });
  assert.equal(fs.statSync(p2).mode & 0o777, (0o777 & ~umask) | 0o444);
  await closeServer(s2);

  const p3 = path.join(dir, 'm600');
  const s3 = await listen(echoServer(), { path: p3, mode: 0o600 });
  assert.equal(fs.statSync(p3).mode & 0o777, 0o600);
  assert.equal(await roundTrip(p3), 'ping');
  await closeServer(s3);

  const p4 = path.join(dir, 'm640');
  const s4 = await listen(echoServer(), { path: p4, mode: '640' });
  assert.equal(fs.statSync(p4).mode & 0o777, 0o640);
  await closeServer(s4);

  for (const mode of [-1, 0o1000, 1.5, 'rw', null, {}]) {
    assert.throws(() => net.createServer().listen({ path: path.join(dir, 'x'), mode }),
      { code: 'ERR_INVALID_ARG_VALUE' }, `mode ${String(mode)}`);
  }
  assert.throws(() => net.createServer().listen({ path: path.join(dir, 'x'), mode: 0o600, readableAll: true }),
    { code: 'ERR_INVALID_ARG_VALUE' });
  assert.equal(fs.existsSync(path.join(dir, 'x')), false);
});

test('reclaimStale: stale socket of a SIGKILLed process is reclaimed', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 'stale');
  const { child, ready } = spawnReady(['-e', `
    const net = require(${JSON.stringify(NET)});
    net.createServer().listen(${JSON.stringify(p)}, () => console.log('ready'));
  `], { readyLine: 'ready' });
  await ready;
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(fs.lstatSync(p).isSocket(), 'file left behind');

  // Without reclaimStale: EADDRINUSE, file untouched.
  const plain = net.createServer();
  plain.listen(p);
  assert.equal((await expectError(plain, 'listening')).code, 'EADDRINUSE');
  assert.ok(fs.lstatSync(p).isSocket());

  const server = await listen(echoServer(), { path: p, reclaimStale: true });
  assert.equal(server.listening, true);
  assert.equal(server.address(), p);
  assert.equal(await roundTrip(p, 'reclaimed'), 'reclaimed');
  await closeServer(server);
  assert.equal(fs.existsSync(p), false);
});

test('reclaimStale: a live server keeps its socket (EADDRINUSE)', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 'live');
  const { child, ready } = spawnReady(['-e', `
    const net = require(${JSON.stringify(NET)});
    net.createServer((s) => s.pipe(s)).listen(${JSON.stringify(p)}, () => console.log('ready'));
  `], { readyLine: 'ready' });
  t.teardown(() => child.kill('SIGKILL'));
  await ready;
  const ino = fs.lstatSync(p).ino;

  const server = net.createServer();
  server.listen({ path: p, reclaimStale: true });
  const err = await expectError(server, 'listening');
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.syscall, 'listen');
  assert.equal(err.port, -1);
  assert.equal(server.listening, false);
  assert.equal(fs.lstatSync(p).ino, ino, 'socket file untouched');
  assert.equal(await roundTrip(p, 'still alive'), 'still alive');
});

test('reclaimStale: never deletes a regular file', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 'file');
  fs.writeFileSync(p, 'precious');
  const server = net.createServer();
  server.listen({ path: p, reclaimStale: true });
  assert.equal((await expectError(server, 'listening')).code, 'EADDRINUSE');
  assert.equal(fs.readFileSync(p, 'utf8'), 'precious');
});

test('listen(handle) and listen({ handle }) adopt a bound binding Pipe', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  for (const [i, wrap] of [(h) => h, (h) => ({ handle: h })].entries()) {
    const p = path.join(dir, `h${i}`);
    const handle = new binding.Pipe(binding.constants.SERVER);
    assert.equal(handle.bind(p), 0);
    const server = await listen(echoServer(), wrap(handle));
    assert.equal(server._handle, handle);
    assert.equal(server.address(), null); // no path known to the server
    assert.equal(await roundTrip(p, `handle ${i}`), `handle ${i}`);
    await closeServer(server);
  }
});

test('listen({ fd }) serves an inherited, bound socket (socket-activation style)', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 'fd');
  // Bind (but do not listen) here, so this process never polls it; the
  // child inherits the descriptor as fd 3 and listens on it.
  const handle = new binding.Pipe(binding.constants.SERVER);
  assert.equal(handle.bind(p), 0);
  t.teardown(() => handle.close());
  const { child, ready } = spawnReady(['-e', `
    const net = require(${JSON.stringify(NET)});
    const server = net.createServer((s) => s.pipe(s)).listen({ fd: 3 }, () => {
      console.log('ready ' + JSON.stringify(server.address()));
    });
  `], { readyLine: 'ready', stdio3: handle.fd });
  t.teardown(() => child.kill('SIGKILL'));
  const line = await ready;
  assert.match(line, /ready null/);
  assert.equal(await roundTrip(p, 'via fd'), 'via fd');
});

test('listen({ fd }) on a non-socket fd fails with a listen error', async (t) => {
  t.timeout(T.timeout);
  const file = path.join(tmpdir(t), 'f');
  const fd = fs.openSync(file, 'w');
  t.teardown(() => fs.closeSync(fd));
  const server = net.createServer();
  server.listen({ fd });
  const err = await expectError(server, 'listening');
  assert.equal(err.syscall, 'listen');
  assert.ok(['EINVAL', 'ENOTSOCK'].includes(err.code), err.code);
  assert.equal(server.listening, false);
});

test('server.unref() lets the process exit (also when called before listen); ref() keeps it alive', async (t) => {
  t.timeout(120000); // three node starts: seconds each under emulation
  const code = (before, after) => `
    const path = require('path');
    const dir = process.env.PW_DIR; // made (and removed) by the test
    const server = net.createServer();
    ${before}
    server.listen(path.join(dir, 's'), () => { console.log('listening'); ${after} });
  `;
  for (const [before, after] of [['server.unref();', ''], ['', 'server.unref();']]) {
    const r = await runScript(code(before, after), { timeout: 30000, env: { PW_DIR: tmpdir(t) } });
    assert.equal(r.timedOut, false, `exited by itself (${before || after})`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'listening');
  }
  // Alive well after it listened (however slow the machine is to get there).
  const prelude = `const net = require(${JSON.stringify(NET)});\n`;
  const { child, ready } = spawnReady(['-e', prelude + code('server.unref(); server.ref();', '')], {
    readyLine: 'listening', env: { PW_DIR: tmpdir(t) }, timeout: 60000,
  });
  t.teardown(() => child.kill('SIGKILL'));
  await ready;
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.equal(child.exitCode, null, 'a referenced server keeps the process alive');
  assert.equal(child.signalCode, null);
});

test('pauseOnConnect: accepted sockets start paused', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 's');
  let serverSide;
  const server = await listen(net.createServer({ pauseOnConnect: true }, (s) => { serverSide = s; }), p);
  assert.equal(server.pauseOnConnect, true);
  const client = net.connect(p);
  client.write('held');
  await new Promise((resolve) => { const poll = () => (serverSide ? resolve() : setImmediate(poll)); poll(); });
  assert.equal(serverSide.readableFlowing, false);
  await new Promise((resolve) => { const poll = () => (client.writableLength === 0 ? resolve() : setImmediate(poll)); poll(); });
  for (let i = 0; i < 10; i++) await new Promise(setImmediate);
  assert.equal(serverSide.bytesRead, 0, 'nothing read while paused');
  const got = collect(serverSide);
  serverSide.resume();
  client.end();
  assert.equal((await got).toString(), 'held');
  await closeServer(server);
});
