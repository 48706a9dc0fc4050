'use strict';
// pipewrap's extensions over Node's net, each against a real foreign peer
// where one exists (Python's socket module, a child process, cat).
const test = require('ava');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const pw = require('..');

const root = path.join(__dirname, '..');
const { tmpdir: tmp, hasPython, listen, closeServer } = require('./net-helpers');

function childProcess(t, args, opts = {}) {
  const child = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
  t.teardown(() => {
    clearTimeout(timer);
    child.kill('SIGKILL');
  });
  let out = '';
  if (child.stdout) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d) => (out += d));
  }
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out })));
  return { child, exited, output: () => out };
}

test('getPeerCredentials: pid/uid/gid of the other process, on accepted and connecting sockets', async (t) => {
  const p = path.join(tmp(t), 'cred.sock');
  const accepted = new Promise((resolve) => {
    const server = pw.createServer((s) => {
      resolve(s.getPeerCredentials());
      s.end(JSON.stringify({ pid: process.pid }));
      server.close();
    });
    server.listen(p);
  });
  await new Promise((r) => setImmediate(r));
  // The child connects and reports what getPeerCredentials says about us.
  const { child, exited } = childProcess(t, [process.execPath, '-e', `
    const pw = require(${JSON.stringify(root)});
    const c = pw.connect(${JSON.stringify(p)}, () => {
      console.log(JSON.stringify(c.getPeerCredentials()));
    });
    c.resume();
  `]);
  const cred = await accepted;
  assert.deepEqual(cred, { pid: child.pid, uid: process.getuid(), gid: process.getgid() });
  const { code, out } = await exited;
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), { pid: process.pid, uid: process.getuid(), gid: process.getgid() });
  assert.throws(() => new pw.Socket().getPeerCredentials(), { code: 'ERR_SOCKET_CLOSED' });
});

test('sendFds: an open file travels to the receiver before the data that carried it', async (t) => {
  const dir = tmp(t);
  const p = path.join(dir, 'fds.sock');
  const file = path.join(dir, 'secret.txt');
  fs.writeFileSync(file, 'contents of an open file');
  const events = [];
  const got = new Promise((resolve) => {
    const server = pw.createServer({ fdPassing: true }, (s) => {
      s.on('fds', (fds) => events.push(['fds', fds]));
      s.on('data', (d) => {
        events.push(['data', d.toString()]);
        if (d.toString().includes('header')) {
          s.end();
          server.close();
          resolve();
        }
      });
    });
    server.listen(p);
  });
  const c = pw.connect({ path: p }, () => {
    const fd = fs.openSync(file, 'r');
    c.sendFds([fd], 'header', (err) => {
      assert.ifError(err);
      fs.closeSync(fd); // the sender may close its copy once the callback runs
    });
  });
  c.resume();
  await got;
  assert.equal(events[0][0], 'fds', 'fds come first');
  assert.equal(events[0][1].length, 1);
  const [rfd] = events[0][1];
  assert.equal(events[1][1], 'header');
  // The receiver owns a working, close-on-exec fd for the same file.
  const flags = fs.readFileSync(`/proc/self/fdinfo/${rfd}`, 'utf8').match(/flags:\s+(\d+)/)[1];
  assert.ok(parseInt(flags, 8) & 0o2000000, 'O_CLOEXEC set');
  const buf = Buffer.alloc(64);
  const n = fs.readSync(rfd, buf, 0, 64, 0);
  assert.equal(buf.toString('utf8', 0, n), 'contents of an open file');
  fs.closeSync(rfd);
  await new Promise((resolve) => c.on('close', resolve));
});

test('sendFds validates its arguments', () => {
  const [a, b] = pw.socketpair();
  assert.throws(() => a.sendFds([]), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => a.sendFds([-1]), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => a.sendFds(['3']), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => a.sendFds([0], 42), { code: 'ERR_INVALID_ARG_TYPE' });
  a.destroy();
  b.destroy();
});

(!hasPython && 'python3 not installed' ? test.skip : test)('fd passing interoperates with Python (socket.send_fds / recv_fds) both ways', async (t) => {
  const dir = tmp(t);
  const p = path.join(dir, 'py.sock');
  const file = path.join(dir, 'from-python.txt');
  fs.writeFileSync(file, 'python opened this');
  let gotFromPython;
  const server = pw.createServer({ fdPassing: true }, (s) => {
    s.once('fds', (fds) => {
      const buf = Buffer.alloc(64);
      gotFromPython = buf.toString('utf8', 0, fs.readSync(fds[0], buf, 0, 64, 0));
      fs.closeSync(fds[0]);
      // Answer with an fd of ours: a pipe whose read end Python reads from.
      const mine = fs.openSync(file, 'r');
      s.sendFds([mine], 'back', () => {
        fs.closeSync(mine);
        s.end();
      });
    });
    s.resume();
  });
  await listen(server, p);
  const { exited } = childProcess(t, ['python3', '-c', `
import socket, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(${JSON.stringify(p)})
fd = os.open(${JSON.stringify(file)}, os.O_RDONLY)
socket.send_fds(s, [b"hi"], [fd])
os.close(fd)
msg, fds, flags, addr = socket.recv_fds(s, 16, 4)
print(msg.decode(), len(fds), os.pread(fds[0], 64, 0).decode())
`]);
  const { code, out } = await exited;
  assert.equal(code, 0);
  assert.equal(gotFromPython, 'python opened this');
  assert.equal(out.trim(), 'back 1 python opened this');
  await closeServer(server);
});

(!hasPython && 'python3 not installed' ? test.skip : test)('abstract names use their exact length: we connect to a Python listener', async (t) => {
  const name = `pipewrap-py-${process.pid}-${Date.now()}`;
  const { child, exited } = childProcess(t, ['python3', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(b"\\0" + ${JSON.stringify(name)}.encode())
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.sendall(b"hello from python")
c.close()
`]);
  await new Promise((resolve) => child.stdout.once('data', resolve));
  const reply = await new Promise((resolve, reject) => {
    let data = '';
    const c = pw.connect('\0' + name);
    c.setEncoding('utf8');
    c.on('data', (d) => (data += d));
    c.on('end', () => resolve(data));
    c.on('error', reject);
  });
  assert.equal(reply, 'hello from python');
  assert.equal((await exited).code, 0);
});

test('socketpair: connected Sockets; one end serves as a child process stdio', async (t) => {
  const [a, b] = pw.socketpair();
  assert.ok(a instanceof pw.Socket && b instanceof pw.Socket);
  // Plain round trip first.
  const echoed = new Promise((resolve) => b.once('data', (d) => resolve(d.toString())));
  a.write('ping');
  assert.equal(await echoed, 'ping');
  // Now `cat` reads b's end as stdin and writes to it as stdout.
  b._handle.setBlocking(true); // children expect blocking stdio
  const { exited } = childProcess(t, ['cat'], { stdio: [b.fd, b.fd, 'inherit'] });
  b.destroy(); // the child holds its own copy
  t.teardown(() => a.destroy());
  let back = '';
  a.setEncoding('utf8');
  a.on('data', (d) => (back += d));
  const ended = new Promise((resolve) => a.on('end', resolve));
  a.end('through cat\n');
  await ended;
  assert.equal(back, 'through cat\n');
  assert.equal((await exited).code, 0);
});

// Serial: process.umask(0) would change the mode of files other tests of this
// file create meanwhile (and umask(mask) needs the process of its own, see
// ava.process.config.mjs).
test.serial('listen({ path, mode }): the socket file has exactly that mode, whatever the umask', async (t) => {
  const p = path.join(tmp(t), 'mode.sock');
  const old = process.umask(0o000);
  let server;
  try {
    server = await listen(pw.createServer(), { path: p, mode: 0o600 });
  } finally {
    process.umask(old);
  }
  assert.equal(fs.statSync(p).mode & 0o777, 0o600);
  await closeServer(server);
});

test('tryFlush: sends the queue now, returns what is left, and completions still come later, in order', async (t) => {
  const b = require('../lib/binding');
  const { Pipe, WriteWrap, streamBaseState, constants } = b;
  const [fa, fb] = b.native.socketpair();
  const writer = new Pipe(constants.SOCKET);
  const reader = new Pipe(constants.SOCKET);
  assert.equal(writer.open(fa), 0);
  assert.equal(reader.open(fb), 0);
  t.teardown(() => {
    writer.close();
    reader.close();
  });
  // Fill the socket until a write is queued, then queue a tail behind it.
  const order = [];
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let queued = 0;
  for (let i = 0; i < 1000 && queued === 0; i++) {
    const req = new WriteWrap();
    req.oncomplete = (status) => order.push([`fill${i}`, status]);
    assert.equal(writer.writeBuffer(req, chunk), 0);
    if (streamBaseState[b.kLastWriteWasAsync] === 1) queued = writer.writeQueueSize;
  }
  assert.ok(queued > 0, 'the socket never filled up');
  const tail = new WriteWrap();
  tail.oncomplete = (status) => order.push(['tail', status]);
  assert.equal(writer.writeUtf8String(tail, 'tail'), 0);
  // Nothing read yet: the kernel takes nothing, all of it stays queued.
  assert.equal(writer.tryFlush(), queued + 4);
  // Drain the reader synchronously (blocking reads on its fd) until the
  // writer's queue could fit, then flush by hand: no loop turn in between.
  const total = chunk.length * 1000;
  let drained = 0;
  const sink = Buffer.alloc(1 << 20);
  let left = queued + 4;
  while (left > 0 && drained < total) {
    drained += fs.readSync(fb, sink);
    left = writer.tryFlush();
  }
  assert.equal(left, 0, 'tryFlush emptied the queue once the peer read');
  assert.equal(writer.writeQueueSize, 0);
  assert.deepEqual(order, [], 'a completion ran inside tryFlush');
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  const tailAt = order.findIndex(([label]) => label === 'tail');
  assert.equal(tailAt, order.length - 1, 'the tail completes last');
  assert.ok(order.every(([, status]) => status === 0), JSON.stringify(order));
  assert.equal(typeof new Pipe(constants.SOCKET).tryFlush(), 'number');
});

test('getPeerPid: the pid at the other end, on accepted and connecting sockets (every platform)', async (t) => {
  const p = path.join(tmp(t), 'pid.sock');
  const pids = await new Promise((resolve) => {
    const server = pw.createServer((s) => {
      const accepted = s.getPeerPid();
      s.end();
      server.close();
      resolve(accepted);
    });
    server.listen(p, () => {
      const c = pw.connect(p, () => {
        c.pidSeen = c.getPeerPid();
      });
      c.resume();
    });
  });
  assert.equal(pids, process.pid);
  assert.throws(() => new pw.Socket().getPeerPid(), { code: 'ERR_SOCKET_CLOSED' });
});

test('setPeerPid: 0 on an open IPC pipe, EINVAL on other pipes or a bad pid, EBADF once closed (a no-op store on Unix)', (t) => {
  const b = require('../lib/binding');
  const { Pipe, constants } = b;
  const { errno } = require('node:os').constants;
  const [UV_EINVAL, UV_EBADF] = [-errno.EINVAL, -errno.EBADF];
  const [fa, fb] = b.native.socketpair();
  const ipc = new Pipe(constants.IPC);
  const plain = new Pipe(constants.SOCKET);
  assert.equal(ipc.open(fa), 0);
  assert.equal(plain.open(fb), 0);
  t.teardown(() => plain.close());
  assert.equal(ipc.setPeerPid(process.pid), 0);
  assert.equal(ipc.setPeerPid(0), UV_EINVAL);
  assert.equal(ipc.setPeerPid('x'), UV_EINVAL);
  assert.equal(plain.setPeerPid(process.pid), UV_EINVAL);
  ipc.close();
  assert.equal(ipc.setPeerPid(process.pid), UV_EBADF);
});
