'use strict';
// Error behaviour of lib/net.js: Node-shaped connect/listen/read/write
// errors, pipewrap's no-truncation policy, and argument validation.

const test = require('ava');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const net = require('../lib/net');
const binding = require('../lib/binding');
const { tmpdir, callCounter, once, expectError, listen, closeServer, collect, runScript, NET } = require('./net-helpers');

const T = { timeout: 20000 };
const errno = os.constants.errno;

function echoServer() {
  return net.createServer((s) => s.pipe(s));
}

// A path of exactly `bytes` UTF-8 bytes inside dir.
function pathOfLength(dir, bytes) {
  const base = `${dir}/`;
  const pad = bytes - Buffer.byteLength(base);
  assert.ok(pad > 0, 'temp dir too long for this test');
  return base + 'x'.repeat(pad);
}

test('connect to a missing path: ENOENT shaped like Node, then close(hadError=true)', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 'missing');
  const c = net.connect(p, calls.never('connect'));
  const err = await expectError(c, 'connect');
  assert.equal(err.message, `connect ENOENT ${p}`);
  assert.equal(err.code, 'ENOENT');
  assert.equal(err.errno, -errno.ENOENT);
  assert.equal(err.syscall, 'connect');
  assert.equal(err.address, p);
  assert.equal('port' in err, false);
  const [hadError] = await once(c, 'close');
  assert.equal(hadError, true);
  assert.equal(c.destroyed, true);
});

test('connect to a socket nobody listens on, or to a regular file: ECONNREFUSED', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  // Bound but not listening: the kernel refuses.
  const p = path.join(dir, 'bound');
  const handle = new binding.Pipe(binding.constants.SERVER);
  assert.equal(handle.bind(p), 0);
  t.teardown(() => handle.close());
  const err = await expectError(net.connect(p), 'connect');
  assert.equal(err.code, 'ECONNREFUSED');
  assert.equal(err.message, `connect ECONNREFUSED ${p}`);

  const f = path.join(dir, 'file');
  fs.writeFileSync(f, '');
  const err2 = await expectError(net.connect({ path: f }), 'connect');
  assert.ok(['ECONNREFUSED', 'ENOTSOCK'].includes(err2.code), err2.code);
  assert.equal(err2.syscall, 'connect');
  assert.equal(err2.address, f);
});

test('listen on a path in use: EADDRINUSE shaped like Node (syscall listen, port -1)', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  const first = await listen(echoServer(), p);
  const second = net.createServer();
  second.listen(p, calls.never('listening callback'));
  const err = await expectError(second, 'listening');
  assert.equal(err.message, `listen EADDRINUSE: address already in use ${p}`);
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.errno, -errno.EADDRINUSE);
  assert.equal(err.syscall, 'listen');
  assert.equal(err.address, p);
  assert.equal(err.port, -1);
  assert.equal(second.listening, false);
  // The first server is unaffected.
  const c = net.connect(p);
  c.end('ok');
  assert.equal((await collect(c)).toString(), 'ok');
  await closeServer(first);
});

test('listen in a missing directory: EACCES (libuv maps bind ENOENT to EACCES)', async (t) => {
  t.timeout(T.timeout);
  const p = path.join(tmpdir(t), 'no', 'such', 'dir', 's');
  const server = net.createServer();
  server.listen(p);
  const err = await expectError(server, 'listening');
  assert.equal(err.code, 'EACCES');
  assert.equal(err.syscall, 'listen');
  assert.equal(err.message, `listen EACCES: permission denied ${p}`);
});

test('paths: 107 bytes work; 108+ bytes fail with ENAMETOOLONG and create nothing', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  const ok = pathOfLength(dir, 107);
  const server = await listen(echoServer(), ok);
  assert.equal(server.address(), ok);
  assert.ok(fs.lstatSync(ok).isSocket());
  const c = net.connect(ok);
  c.end('107');
  assert.equal((await collect(c)).toString(), '107');
  await closeServer(server);

  for (const long of [pathOfLength(dir, 108), pathOfLength(dir, 300), `${dir}/${'€'.repeat(40)}`]) {
    const bytes = Buffer.byteLength(long);
    const s = net.createServer();
    s.listen(long);
    const err = await expectError(s, 'listening');
    assert.equal(err.code, 'ENAMETOOLONG');
    assert.equal(err.errno, -errno.ENAMETOOLONG);
    assert.equal(err.syscall, 'listen');
    assert.equal(err.address, long);
    assert.equal(err.port, -1);
    assert.match(err.message, /^listen ENAMETOOLONG: name too long /);
    assert.match(err.message, /108 bytes/);
    assert.ok(err.message.includes(`${bytes} bytes`));
    assert.equal(s.listening, false);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing created (no truncated file)');

    const client = net.connect(long);
    const closed = new Promise((resolve) => client.once('close', resolve));
    const cerr = await expectError(client, 'connect');
    // 'close' says hadError, as after any other connect error.
    assert.equal(await closed, true);
    assert.equal(cerr.code, 'ENAMETOOLONG');
    assert.equal(cerr.syscall, 'connect');
    assert.equal(cerr.address, long);
    assert.ok(cerr.message.startsWith(`connect ENAMETOOLONG ${long}`));
    assert.match(cerr.message, /108 bytes/);
  }
});

test('abstract names: up to 108 bytes including the leading NUL', async (t) => {
  t.timeout(T.timeout);
  const base = `\0pw-${process.pid}-`;
  const ok = base + 'a'.repeat(108 - base.length);
  assert.equal(Buffer.byteLength(ok), 108);
  const server = await listen(echoServer(), ok);
  const c = net.connect(ok);
  c.end('abstract 108');
  assert.equal((await collect(c)).toString(), 'abstract 108');
  await closeServer(server);

  const long = `${ok}b`;
  const s = net.createServer();
  s.listen(long);
  assert.equal((await expectError(s, 'listening')).code, 'ENAMETOOLONG');
  assert.equal((await expectError(net.connect(long), 'connect')).code, 'ENAMETOOLONG');
});

test('listen() rejects what node:net rejects, with node:net\'s codes', (t) => {
  const nodeNet = require('node:net');
  const sock = path.join(tmpdir(t), 's.sock');
  // A port is checked before a path, as Node does (only invalid ports here:
  // with a valid one node:net would listen on TCP).
  const cases = [false, true, { port: false }, { port: true }, { fd: -1 }, { path: -1 }, { path: '' },
    {}, { host: 'localhost' }, { exclusive: true }, -1, 65536, { port: -1, path: sock },
    { port: 70000, path: sock }, { port: ' ', path: sock }, { port: 'abc', path: sock }];
  const outcome = (impl, arg) => {
    const server = impl.createServer();
    server.on('error', () => {});
    try {
      server.listen(arg).close();
      return 'no throw';
    } catch (err) {
      return `${err.name} ${err.code}${err.code === 'ERR_SOCKET_BAD_PORT' ? `: ${err.message}` : ''}`;
    }
  };
  for (const arg of cases) {
    assert.equal(outcome(net, arg), outcome(nodeNet, arg), `listen(${JSON.stringify(arg)})`);
  }
});

test('listen({ fd }) on an fd that is closed or not a socket fails with EINVAL, as node:net', async (t) => {
  const nodeNet = require('node:net');
  const file = path.join(tmpdir(t), 'plain');
  fs.writeFileSync(file, 'x');
  const fileFd = fs.openSync(file, 'r');
  // Not a closed fd of ours: other tests in this process may reuse its number.
  const closedFd = 987654;
  t.teardown(() => fs.closeSync(fileFd));
  for (const fd of [fileFd, closedFd]) {
    const codes = [];
    for (const impl of [nodeNet, net]) {
      const server = impl.createServer();
      server.listen({ fd });
      const [err] = await once(server, 'error');
      codes.push([err.code, err.syscall]);
    }
    assert.deepEqual(codes[1], codes[0], `fd ${fd === fileFd ? 'of a file' : 'closed'}`);
    assert.equal(codes[1][0], 'EINVAL');
  }
});

test('argument validation throws Node-style errors synchronously', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  for (const bad of [42, true, {}, Buffer.from('/tmp/x')]) {
    assert.throws(() => net.connect({ path: bad }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => new net.Socket().connect({ path: bad }), { code: 'ERR_INVALID_ARG_TYPE' });
    // listen, as Node's: a path that is not a string is an options value
    // without a usable "path" (see the oracle test below).
    assert.throws(() => net.createServer().listen({ path: bad }), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  assert.throws(() => net.connect({ path: 42 }), { message: /"options\.path" property must be of type string/ });
  assert.throws(() => net.connect(), { code: 'ERR_MISSING_ARGS' });
  assert.throws(() => net.connect({}), { code: 'ERR_MISSING_ARGS' });
  assert.throws(() => net.connect(null), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => net.connect({ port: 80 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => net.connect(''), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => net.connect(`${dir}/a\0b`), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => net.createServer().listen(8080), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => net.createServer().listen({ port: 8080 }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => net.createServer().listen({ host: 'x' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => net.createServer().listen(), { code: 'ERR_MISSING_ARGS' });
  assert.throws(() => net.createServer().listen(`${dir}/a\0b`), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => net.createServer().listen({ handle: {} }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => net.createServer(42), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new net.Socket({ handle: {} }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new net.Socket({ objectMode: true }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => new net.Socket({ fd: -1 }), { code: 'ERR_OUT_OF_RANGE' });

  const file = path.join(dir, 'f');
  const fd = fs.openSync(file, 'w');
  try {
    assert.throws(() => new net.Socket({ fd }), { name: 'TypeError', code: 'ERR_INVALID_FD_TYPE' });
  } finally {
    fs.closeSync(fd);
  }
  assert.deepEqual(fs.readdirSync(dir), ['f'], 'nothing else created');
});

test('peer closing with our bytes unread: read ECONNRESET error shape', async (t) => {
  t.timeout(T.timeout);
  const calls = callCounter(t);
  const p = path.join(tmpdir(t), 's');
  let serverSide;
  const server = await listen(net.createServer({ pauseOnConnect: true }, (s) => { serverSide = s; }), p);
  const client = net.connect(p);
  await new Promise((resolve) => client.write('unread', resolve));
  await new Promise((resolve) => { const poll = () => (serverSide ? resolve() : setImmediate(poll)); poll(); });
  serverSide.destroy(); // with 'unread' still in its receive queue
  const err = await expectError(client);
  assert.equal(err.message, 'read ECONNRESET');
  assert.equal(err.code, 'ECONNRESET');
  assert.equal(err.errno, -errno.ECONNRESET);
  assert.equal(err.syscall, 'read');
  client.on('close', calls.must((hadError) => assert.equal(hadError, true)));
  await once(client, 'close');
  await closeServer(server);
});

test('writing to a SIGKILLed peer: write EPIPE/ECONNRESET error, the process survives', async (t) => {
  t.timeout(T.timeout);
  // Run in a child so a stray SIGPIPE or hang cannot take the runner down.
  const r = await runScript(`
    const { spawn } = require('child_process');
    const path = require('path');
    const dir = process.env.PW_DIR; // made (and removed) by the test
    const p = path.join(dir, 's');
    const peer = spawn(process.execPath, ['-e',
      'require(' + JSON.stringify(${JSON.stringify(NET)}) + ').createServer((s) => s.resume())' +
      '.listen(' + JSON.stringify(p) + ', () => console.log("ready"))'], { stdio: ['ignore', 'pipe', 'inherit'] });
    peer.stdout.once('data', () => {
      // allowHalfOpen: the peer's EOF must not end our side, so the error
      // comes from the binding's write path, not from "write after end".
      const c = net.connect({ path: p, allowHalfOpen: true }, () => {
        peer.kill('SIGKILL');
        peer.on('exit', () => {
          const chunk = Buffer.alloc(64 * 1024, 1);
          const pump = () => { if (!c.destroyed) { c.write(chunk); setImmediate(pump); } };
          pump();
        });
      });
      c.on('error', (err) => {
        console.log(JSON.stringify({ code: err.code, syscall: err.syscall, message: err.message, errno: err.errno }));
        c.on('close', () => console.log('survived'));
      });
    });
  `, { timeout: 10000, env: { PW_DIR: tmpdir(t) } });
  assert.equal(r.timedOut, false, r.stderr);
  assert.equal(r.signal, null);
  assert.equal(r.code, 0, r.stderr);
  const [line, last] = r.stdout.trim().split('\n');
  const err = JSON.parse(line);
  assert.ok(['EPIPE', 'ECONNRESET'].includes(err.code), err.code);
  assert.equal(err.errno, -errno[err.code]);
  assert.ok(['write', 'read'].includes(err.syscall), err.syscall);
  if (err.code === 'EPIPE') assert.equal(err.syscall, 'write');
  assert.equal(err.message, `${err.syscall} ${err.code}`);
  assert.equal(last, 'survived');
});
