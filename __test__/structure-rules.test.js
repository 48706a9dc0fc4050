'use strict';
// The architecture rules, each at the place where today's code broke it
// (issue 20): JS run under a borrow (async hooks), the streamBaseState
// probe trusting globals, a detached user read buffer, queued sendFds fds
// that the caller closes, and references of a handle collected unopened.
// Scripts that patch globals or need --expose-gc run in a child process.

const test = require('ava');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const pw = require('..');
const { tmpdir } = require('./net-helpers');

const ROOT = path.join(__dirname, '..');

/** Runs `source` in a fresh node; resolves { code, signal, out, err }. */
function runScript(t, source, args = []) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, '-e', source], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    t.teardown(() => {
      clearTimeout(timer);
      child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

test('an async_hooks init hook may close the handle it sees open (bind, connect, accept)', async (t) => {
  const dir = tmpdir(t);
  const { code, out, err } = await runScript(
    t,
    `
    const async_hooks = require('node:async_hooks');
    const fs = require('node:fs');
    const path = require('node:path');
    const pw = require('.');
    const { Pipe, PipeConnectWrap, constants } = pw.binding;
    const dir = ${JSON.stringify(dir)};
    const events = [];
    let closeNext = null;
    async_hooks.createHook({
      init(id, type, trigger, resource) {
        if (type !== 'PIPEWRAP' || !closeNext) return;
        const tag = closeNext;
        closeNext = null;
        resource.close(() => events.push(tag + ' closed'));
      },
    }).enable();

    // bind: the hook closes the server as it opens; close unlinks the path.
    const bound = path.join(dir, 'bound.sock');
    const server = new Pipe(constants.SERVER);
    closeNext = 'bind';
    events.push('bind ' + server.bind(bound));

    // connect: the request is cancelled and completes before the close.
    const client = new Pipe(constants.SOCKET);
    const req = new PipeConnectWrap();
    req.oncomplete = (status) => events.push('connect ' + status);
    closeNext = 'connect';
    events.push('connect call ' + client.connect(req, path.join(dir, 'nobody.sock')));

    // accept: the hook closes the accepted handle; the server goes on.
    const live = pw.createServer((s) => {
      events.push('connection');
      s.on('error', (e) => events.push('accepted error ' + e.code));
    });
    live.listen(path.join(dir, 'live.sock'), () => {
      const c = pw.connect(path.join(dir, 'live.sock'));
      closeNext = 'accepted'; // the next handle made is the accepted one
      c.on('error', () => {});
      c.on('close', () => {
        setTimeout(() => {
          live.close();
          console.log(JSON.stringify({ events, boundExists: fs.existsSync(bound) }));
        }, 50);
      });
      c.resume();
    });
    `,
  );
  assert.equal(code, 0, err);
  const { events, boundExists } = JSON.parse(out);
  assert.equal(boundExists, false, 'the bound path is unlinked by the close');
  const at = (e) => events.indexOf(e);
  assert.ok(at('bind 0') >= 0, JSON.stringify(events));
  assert.ok(at('bind closed') > at('bind 0'), JSON.stringify(events));
  assert.ok(at('connect call 0') >= 0, JSON.stringify(events));
  assert.ok(at('connect -125') > at('connect call 0'), 'the connect is cancelled: ' + JSON.stringify(events));
  assert.ok(at('connect closed') > at('connect -125'), 'the close callback comes after it: ' + JSON.stringify(events));
  assert.ok(at('accepted closed') >= 0, JSON.stringify(events));
});

test('streamBaseState stays safe when WebAssembly and structuredClone were replaced before require', async (t) => {
  const { code, out, err } = await runScript(
    t,
    `
    const realClone = globalThis.structuredClone;
    const realWasm = globalThis.WebAssembly;
    // A fake Memory whose buffer is a plain, detachable ArrayBuffer, and a
    // structuredClone that never detaches anything.
    globalThis.WebAssembly = { Memory: function Memory() { return { buffer: new ArrayBuffer(65536) }; } };
    globalThis.structuredClone = (v) => v;
    const pw = require('.');
    const state = pw.binding.streamBaseState;
    globalThis.WebAssembly = realWasm;
    globalThis.structuredClone = realClone;
    // Move the state's memory elsewhere: pipewrap must not write into it.
    const moved = new Int32Array(structuredClone(state.buffer, { transfer: [state.buffer] }), state.byteOffset, 4);
    const before = moved[2];
    const [fd] = require('./index.js').socketpair();
    const { Pipe, WriteWrap, constants } = pw.binding;
    const p = new Pipe(constants.SOCKET);
    p.open(fd);
    // A write the socket takes at once reports its size in kBytesWritten.
    p.writeUtf8String(new WriteWrap(), 'seven!!');
    console.log(JSON.stringify({ before, after: moved[2] }));
    p.close();
    `,
  );
  assert.equal(code, 0, err);
  const { before, after } = JSON.parse(out);
  assert.equal(after, before, 'a write changed memory that JS moved away');
});

test('a detached user read buffer gives one EFAULT read error and stops reading, never a silent stall', async (t) => {
  const { Pipe, constants, streamBaseState } = pw.binding;
  const native = require('../index.js');
  const [mine, peer] = native.socketpair();
  const p = new Pipe(constants.SOCKET);
  assert.equal(p.open(mine), 0);
  const ub = new Uint8Array(64);
  p.useUserBuffer(ub);
  const reads = [];
  p.onread = () => reads.push(streamBaseState[pw.kReadBytesOrError]);
  assert.equal(p.readStart(), 0);
  // Transfer the read buffer's memory away (detaching it), then send data.
  structuredClone(ub.buffer, { transfer: [ub.buffer] });
  fs.writeSync(peer, 'data for a buffer that is gone');
  // Level-triggered: unread data is reported again every loop turn.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  fs.writeSync(peer, 'more');
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  await new Promise((resolve) => p.close(resolve));
  native.closeFd(peer);
  assert.deepEqual(reads, [-14]);
});

test('sendFds: a queued fd the caller closes (and whose number is reused) still sends the file asked for', async (t) => {
  const dir = tmpdir(t);
  const sock = path.join(dir, 'f.sock');
  const wanted = path.join(dir, 'wanted.txt');
  const other = path.join(dir, 'other.txt');
  fs.writeFileSync(wanted, 'the file asked for');
  fs.writeFileSync(other, 'another file');
  const received = new Promise((resolve, reject) => {
    const server = pw.createServer({ fdPassing: true }, (s) => {
      s.on('fds', (fds) => {
        resolve(fs.readFileSync(`/proc/self/fd/${fds[0]}`, 'utf8'));
        fds.forEach(pw.closeFd);
      });
      s.on('error', reject);
      s.resume();
      s.on('end', () => server.close());
    });
    t.teardown(() => server.close());
    server.listen(sock);
  });
  await new Promise((r) => setImmediate(r));
  const c = pw.connect({ path: sock, fdPassing: true });
  await new Promise((resolve) => c.on('connect', resolve));
  // 8 MiB ahead of the fds: they stay queued in the socket's write queue.
  c.write(Buffer.alloc(8 << 20));
  const fd = fs.openSync(wanted, 'r');
  c.sendFds([fd], 'x');
  fs.closeSync(fd);
  const reused = fs.openSync(other, 'r');
  t.teardown(() => fs.closeSync(reused));
  c.end();
  assert.equal(await received, 'the file asked for');
});

test('sendFds of an fd that is not open fails with EBADF at the call', async (t) => {
  const [a, b] = pw.socketpair();
  t.teardown(() => {
    a.destroy();
    b.destroy();
  });
  const fd = fs.openSync(__filename, 'r');
  fs.closeSync(fd);
  const err = await new Promise((resolve) => {
    try {
      a.sendFds([fd], 'x', resolve);
    } catch (e) {
      resolve(e);
    }
    a.on('error', resolve);
  });
  assert.equal(err && err.code, 'EBADF');
});

test('a Pipe collected without ever opening releases its references', async (t) => {
  const { code, out, err } = await runScript(
    t,
    `
    const pw = require('.');
    const { Pipe, constants } = pw.binding;
    const settle = () => new Promise((r) => setImmediate(r));
    // In a function of its own: no Pipe stays reachable from this frame.
    function make(n) {
      for (let i = 0; i < n; i++) {
        const p = new Pipe(constants.SOCKET);
        p.onread = () => i; // a function of its own: a reference each
        p.useUserBuffer(new Uint8Array(16));
      }
    }
    (async () => {
      await settle();
      const baseline = pw.binding.native ? pw.binding.native.liveReferences() : require('./index.js').liveReferences();
      make(200);
      for (let i = 0; i < 10; i++) { globalThis.gc(); await settle(); }
      const live = require('./index.js').liveReferences();
      console.log(JSON.stringify({ baseline, live }));
    })();
    `,
    ['--expose-gc'],
  );
  assert.equal(code, 0, err);
  const { baseline, live } = JSON.parse(out);
  assert.equal(live, baseline);
});
