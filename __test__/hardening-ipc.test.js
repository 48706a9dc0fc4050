'use strict';
// A hostile IPC peer must never take our process down, leak fds, or stall
// the channel.
//
// Our side is openChannel(fd) from require('..') (or fork() with a raw peer
// child); the hostile peer writes raw bytes and SCM_RIGHTS fds on the other
// end of binding.native.socketpair(), through a raw pipewrap Pipe with
// setFdPassing(true)/sendFds() (fixtures/hostile-harness.js). Each test
// checks the 'error' event (and its code), that a well-formed message sent
// afterwards still arrives (or, past maxMessageSize, that the channel goes
// down cleanly), and that the process fd table is the same once everything
// is closed (every fd received over the socket closed too).
//
// Attacks whose failure mode is a crash of the whole process (no 'error'
// listener, fd-table exhaustion) run in a child process with a timeout.
const ava = require('ava');
const assert = require('node:assert/strict');
const fs = require('fs');
const os = require('os');
const path = require('path');
const net = require('net');
const dgram = require('dgram');
const childProcess = require('child_process');
const pw = require('..');
const { rawPeer, frame, fdSnapshot, fdDiff, assertNoFdLeak, settle, prng } =
  require('./fixtures/hostile-harness');
const { fixture, guard, events } = require('./fixtures/ipc-helpers');

const { openChannel, fork, binding } = pw;
const OUR_BINDING = process.env.PIPEWRAP_BINDING !== 'node';
// The raw peer needs pipewrap's binding extras (setFdPassing/sendFds).
const SKIP_ALL = !OUR_BINDING && 'PIPEWRAP_BINDING=node: the raw peer needs pipewrap\'s own binding';
const SKIP_FDS = SKIP_ALL;
// Every test is serial: each compares the process fd table before and after
// (that is also why this file runs in a child process of its own, see
// ava.process.config.mjs). All of them are skipped when SKIP_ALL.
const test = (name, fn) => (SKIP_ALL ? ava.serial.skip : ava.serial)(name, fn);
test.skip = (name, fn) => ava.serial.skip(name, fn);
const before = (fn) => ava.before(async () => { if (!SKIP_ALL) await fn(); });
const LIMIT = 64 * 1024;
const T = { timeout: 20000 };

function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-hostile-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// Our channel on one end of a socketpair, a raw hostile peer on the other.
// Records every event in order in `seen`.
function pair(options = {}) {
  const [ours, theirs] = binding.native.socketpair();
  const ch = openChannel(ours, { maxMessageSize: LIMIT, ...options });
  const peer = rawPeer(theirs, options.serialization || 'json');
  const seen = [];
  const errors = [];
  const messages = [];
  ch.on('error', (err) => {
    errors.push(err);
    seen.push(`error ${err.code}`);
  });
  ch.on('message', (m, handle) => {
    messages.push([m, handle]);
    seen.push(`message ${JSON.stringify(m)}${handle ? ` +${handle.constructor.name}` : ''}`);
  });
  const disconnected = events(ch, 'disconnect').then(() => seen.push('disconnect'));
  const message = (filter) => new Promise((resolve) => {
    const have = messages.find(([m]) => filter(m));
    if (have) return resolve(have);
    const on = (m, h) => {
      if (!filter(m)) return;
      ch.removeListener('message', on);
      resolve([m, h]);
    };
    ch.on('message', on);
  });
  // Close both ends (ours first, like a user would) and let the loop settle.
  const close = async () => {
    if (ch.connected) ch.disconnect();
    await disconnected;
    await peer.close();
    await settle();
  };
  return { ch, peer, seen, errors, messages, message, disconnected, close };
}

const isAfter = (m) => m === 'after';
const closeHandle = (h) => new Promise((resolve) => {
  if (!h) return resolve();
  if (typeof h.destroy === 'function') {
    if (h.destroyed) return resolve(); // closed itself (peer went away); settle() lets it finish
    h.once('close', resolve);
    h.destroy();
  } else if (h instanceof net.Server || h instanceof pw.Server) {
    h.close(() => resolve());
  } else if (typeof h.close === 'function') {
    h.close(() => resolve());
  } else if (typeof h.fd === 'number' && h.fd >= 0) {
    fs.closeSync(h.fd); // a bare { type, fd } descriptor (see the UDP test below)
    resolve();
  } else {
    resolve();
  }
});

// A bound UDP socket and its fd (found in the fd table: dgram hides it).
async function udpSocket() {
  const was = fdSnapshot();
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const added = fdDiff(was).filter((l) => /socket:/.test(l));
  assert.strictEqual(added.length, 1, added.join());
  return { socket, fd: Number(added[0].split(' ')[0]) };
}

before(async () => {
  // Lazily created stdio streams and the first channel's one-off state must
  // not count as leaks.
  void process.stdout;
  void process.stderr;
  const { peer, close } = pair();
  await peer.send('warm-up');
  await close();
});

// ------------------------------------------------------------------ json garbage

test('garbage bytes: random binary without a newline, then a newline -> ERR_IPC_BAD_MESSAGE; channel continues', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { ch, peer, seen, errors, message, close } = pair();
  const rnd = prng(0x5eed);
  // Starts with 0xff (never valid UTF-8 or JSON), no 0x0a inside; written in
  // several pieces so the parser holds a partial line in between.
  const garbage = Buffer.concat([Buffer.from([0xff]), rnd.bytes(20000, [0x0a])]);
  for (let off = 0; off < garbage.length; off += 4096) {
    await peer.write(garbage.subarray(off, off + 4096));
  }
  await peer.write('\n');
  await peer.write(Buffer.from([0x00, 0x0a])); // a NUL line
  await peer.write('\n'); // an empty line
  await peer.send('after');
  await message(isAfter);
  assert.deepStrictEqual(seen, [
    'error ERR_IPC_BAD_MESSAGE', 'error ERR_IPC_BAD_MESSAGE', 'error ERR_IPC_BAD_MESSAGE',
    'message "after"',
  ]);
  for (const err of errors) assert.ok(err.cause instanceof SyntaxError, err.message);
  assert.strictEqual(ch.connected, true);
  // And the other direction still works.
  ch.send({ back: 1 });
  assert.deepStrictEqual(await peer.reply((m) => m && m.back), { back: 1 });
  await close();
  assertNoFdLeak(fds);
});

test('invalid UTF-8: inside a JSON string -> U+FFFD; as JSON structure -> ERR_IPC_BAD_MESSAGE; split across writes', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { ch, peer, seen, message, close } = pair();
  const b = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));
  // In a string: a bad continuation, a lone 0xff, an overlong '/', a UTF-16
  // surrogate encoded in UTF-8, and a sequence truncated by the quote.
  await peer.write(b('"a', [0xc3, 0x28], 'b', [0xff], 'c', [0xc0, 0xaf], 'd', [0xed, 0xa0, 0x80], 'e', [0xe2, 0x82], '"\n'));
  // Outside any string.
  await peer.write(b('{"k":', [0xfe], '}\n'));
  // A truncated sequence that ends a write, the next write is the newline.
  await peer.write(b('"x', [0xf0, 0x9f]));
  await peer.write(b([0x8e], '"\n'));
  // A valid 4-byte sequence split across three writes.
  await peer.write(b('"', [0xf0]));
  await peer.write(b([0x9f, 0x8e]));
  await peer.write(b([0x89], '"\n'));
  await peer.send('after');
  await message(isAfter);
  const R = '\ufffd';
  assert.deepStrictEqual(seen, [
    `message ${JSON.stringify(`a${R}(b${R}c${R}${R}d${R}${R}${R}e${R}`)}`,
    'error ERR_IPC_BAD_MESSAGE',
    `message ${JSON.stringify(`x${R}`)}`,
    'message "🎉"',
    'message "after"',
  ]);
  assert.strictEqual(ch.connected, true);
  await close();
  assertNoFdLeak(fds);
});

test('an endless line past maxMessageSize (64 KiB): ERR_IPC_MESSAGE_TOO_LARGE, then a clean disconnect', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { ch, peer, seen, errors, message, disconnected, close } = pair();
  await peer.send('before');
  await message((m) => m === 'before');
  const chunk = Buffer.alloc(16 * 1024, 0x78);
  const CAP = 8 * 1024 * 1024;
  await peer.write('"');
  while (!peer.eof && peer.bytesWritten < CAP) {
    if ((await peer.write(chunk)) < 0) break; // EPIPE once we hung up
  }
  await disconnected;
  await peer.eofSeen;
  assert.ok(peer.bytesWritten < CAP, `still reading after ${peer.bytesWritten} bytes`);
  assert.deepStrictEqual(seen, ['message "before"', 'error ERR_IPC_MESSAGE_TOO_LARGE', 'disconnect']);
  assert.ok(errors[0] instanceof RangeError);
  assert.strictEqual(errors[0].maxMessageSize, LIMIT);
  assert.ok(errors[0].size > LIMIT);
  assert.strictEqual(ch.connected, false);
  assert.strictEqual(ch.channel, null);
  // Sending now fails politely.
  const sendErr = await new Promise((resolve) => ch.send('late', resolve));
  assert.strictEqual(sendErr.code, 'ERR_IPC_CHANNEL_CLOSED');
  await close();
  assertNoFdLeak(fds);
});

test('a line of exactly maxMessageSize bytes is delivered; one byte more is not', async (t) => {
  t.timeout(T.timeout);
  for (const extra of [0, 1]) {
    const fds = fdSnapshot();
    const { peer, seen, message, disconnected, close } = pair();
    const line = JSON.stringify('y'.repeat(LIMIT - 2 + extra)); // LIMIT (+1) bytes
    assert.strictEqual(Buffer.byteLength(line), LIMIT + extra);
    await peer.write(line.slice(0, 1000));
    await peer.write(line.slice(1000) + '\n');
    await peer.send('after');
    if (extra === 0) {
      await message(isAfter);
      assert.deepStrictEqual(seen.map((s) => s.slice(0, 12)), ['message "yyy', 'message "aft']);
    } else {
      await disconnected;
      assert.deepStrictEqual(seen, ['error ERR_IPC_MESSAGE_TOO_LARGE', 'disconnect']);
    }
    await close();
    assertNoFdLeak(fds, `extra=${extra}`);
  }
});

// ------------------------------------------------------------------ fds

(SKIP_FDS ? test.skip : test)('NODE_HANDLE carrying a regular file, a FIFO or /dev/null -> NACK + ERR_IPC_BAD_HANDLE, fd closed; channel continues', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  const fifo = path.join(dir, 'fifo');
  childProcess.execFileSync('mkfifo', [fifo]);
  const file = path.join(dir, 'file');
  fs.writeFileSync(file, 'not a socket');
  const fds = fdSnapshot();
  const { ch, peer, seen, errors, message, close } = pair();
  const kinds = [
    ['file', () => fs.openSync(file, 'r')],
    ['fifo', () => fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK)],
    ['dir', () => fs.openSync(dir, 'r')],
    ['devnull', () => fs.openSync('/dev/null', 'r')],
  ];
  for (const type of ['net.Socket', 'net.Server', 'net.Native', 'dgram.Socket', 'dgram.Native']) {
    for (const [kind, open] of kinds) {
      const fd = open();
      await peer.send({ cmd: 'NODE_HANDLE', type, msg: `${kind} as ${type}` }, [fd]);
      fs.closeSync(fd);
    }
  }
  await peer.send('after');
  await message(isAfter);
  const n = 5 * kinds.length;
  assert.deepStrictEqual(seen, [...Array(n).fill('error ERR_IPC_BAD_HANDLE'), 'message "after"']);
  assert.match(errors[0].message, /unsupported type for 'net\.Socket'/);
  assert.deepStrictEqual(await peer.replyCount(n), Array(n).fill({ cmd: 'NODE_HANDLE_NACK' }));
  assert.strictEqual(ch.connected, true);
  await close();
  assertNoFdLeak(fds);
});

(SKIP_FDS ? test.skip : test)('NODE_HANDLE carrying a child_process stdio pipe: a working socket arrives, nothing leaks', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const cat = childProcess.spawn('cat', { stdio: ['pipe', 'pipe', 'inherit'] });
  const catExit = guard(cat, 10000);
  let out = '';
  cat.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  const catEnd = new Promise((resolve) => cat.stdout.once('end', resolve));
  const { peer, seen, message, close } = pair();
  await peer.send({ cmd: 'NODE_HANDLE', type: 'net.Socket', msg: 'cat stdin' }, [cat.stdin._handle.fd]);
  const [m, sock] = await message((x) => x === 'cat stdin');
  assert.strictEqual(m, 'cat stdin');
  assert.ok(sock instanceof pw.Socket, 'a Unix stream socket arrives as a pipewrap Socket');
  await new Promise((resolve) => sock.end('through the handed-over fd\n', resolve));
  cat.stdin.destroy();
  await catEnd;
  assert.strictEqual(out, 'through the handed-over fd\n');
  await closeHandle(sock);
  await peer.send('after');
  await message(isAfter);
  assert.deepStrictEqual(seen, ['message "cat stdin" +Socket', 'message "after"']);
  assert.deepStrictEqual(await peer.replyCount(1), [{ cmd: 'NODE_HANDLE_ACK' }]);
  await close();
  assert.strictEqual((await catExit).code, 0);
  await settle();
  assertNoFdLeak(fds);
});

(SKIP_FDS ? test.skip : test)('fds attached to messages that are not NODE_HANDLE are closed, not delivered', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { ch, peer, seen, messages, message, close } = pair();
  const [s1, s2] = binding.native.socketpair();
  const file = fs.openSync(__filename, 'r');
  await peer.send({ plain: 1 }, [file, s1, s2]);
  const devnull = fs.openSync('/dev/null', 'r');
  await peer.send('devnull', [devnull]);
  // Internal commands that take no handle, with fds.
  const [s3, s4] = binding.native.socketpair();
  await peer.send({ cmd: 'NODE_HANDLE_ACK' }, [s3]);
  await peer.send({ cmd: 'NODE_pipewrap_whatever' }, [s4]);
  for (const fd of [file, s1, s2, s3, s4, devnull]) fs.closeSync(fd);
  await peer.send('after');
  const [, h] = await message(isAfter);
  assert.strictEqual(h, undefined);
  assert.deepStrictEqual(seen, ['message {"plain":1}', 'message "devnull"', 'message "after"']);
  assert.deepStrictEqual(messages.map(([, handle]) => handle), [undefined, undefined, undefined]);
  // The ACK for a handle we never sent is ignored; nothing was answered
  // (our writes are ordered: once 'ping' is there, nothing else came first).
  ch.send('ping');
  await peer.reply((m) => m === 'ping');
  assert.deepStrictEqual(peer.replies, ['ping']);
  assert.strictEqual(ch.connected, true);
  await close();
  assertNoFdLeak(fds);
});

(SKIP_FDS ? test.skip : test)('fd flood: 500 messages carrying 3 fds each, then 64 fds in one NODE_HANDLE; order kept, nothing leaks', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { ch, peer, messages, errors, message, close } = pair();
  const N = 500;
  const writes = [];
  for (let i = 0; i < N; i++) {
    const [a, b] = binding.native.socketpair();
    const f = fs.openSync('/dev/null', 'r');
    const msg = i % 7 === 0 ? { cmd: 'NODE_HANDLE', type: 'net.Native', msg: { i } } : { i };
    // The fds must stay open until the write has really gone out.
    writes.push(peer.send(msg, [a, b, f]).then((status) => {
      assert.strictEqual(status, 0);
      for (const fd of [a, b, f]) fs.closeSync(fd);
    }));
  }
  await Promise.all(writes);
  const many = [];
  for (let i = 0; i < 32; i++) many.push(...binding.native.socketpair());
  assert.strictEqual(await peer.send({ cmd: 'NODE_HANDLE', type: 'net.Native', msg: 'many' }, many), 0);
  for (const fd of many) fs.closeSync(fd);
  await peer.send('after');
  await message(isAfter);
  // Extra fds queue up behind the first of each read, so a NODE_HANDLE may
  // be paired with a stale fd (a /dev/null one: ERR_IPC_BAD_HANDLE, message
  // dropped; see the todo tests below). Plain messages are never lost, order
  // is kept, each NODE_HANDLE gives a message or an error.
  const got = messages.map(([m]) => (m && typeof m === 'object' ? m.i : m));
  assert.strictEqual(got.at(-1), 'after');
  const expected = [...Array.from({ length: N }, (_, i) => i), 'many'];
  assert.deepStrictEqual(got.slice(0, -1), expected.filter((x) => got.includes(x)), 'order');
  assert.deepStrictEqual(expected.filter((x) => typeof x === 'number' && x % 7 !== 0 && !got.includes(x)), [],
                         'plain messages lost');
  assert.strictEqual(got.length - 1 + errors.length, N + 1);
  for (const e of errors) assert.strictEqual(e.code, 'ERR_IPC_BAD_HANDLE');
  // Whatever handle came with a NODE_HANDLE is ours to close.
  const handles = messages.map(([, h]) => h).filter(Boolean);
  assert.ok(handles.length >= 1, 'some handles were delivered');
  await Promise.all(handles.map(closeHandle));
  assert.strictEqual(ch.connected, true);
  await close();
  assertNoFdLeak(fds);
});

(SKIP_FDS ? test.skip : test)('fds sent with plain messages are released while the channel is still open (no hoarding)', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { peer, message, close } = pair();
  const withChannel = fdSnapshot(); // the channel's own two sockets are not hoarding
  try {
    for (let i = 0; i < 200; i++) {
      const extra = [fs.openSync('/dev/null', 'r'), fs.openSync('/dev/null', 'r'), fs.openSync('/dev/null', 'r')];
      assert.strictEqual(await peer.send({ i }, extra), 0);
      for (const fd of extra) fs.closeSync(fd);
    }
    await peer.send('after');
    await message(isAfter);
    await settle();
    // At most the one fd that would belong to a NODE_HANDLE in the next read
    // may still be held once every message has been delivered.
    const held = fdDiff(withChannel);
    assert.ok(held.length <= 1, `${held.length} received fds still open while the channel is idle: ${held.join(", ")}`);
  } finally {
    await close();
  }
  assertNoFdLeak(fds);
});

(SKIP_FDS ? test.skip : test)('a NODE_HANDLE gets the fd sent with it, even after a message that carried extra fds', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { peer, message, close } = pair();
  const extra = [...binding.native.socketpair(), ...binding.native.socketpair()];
  const [mine, other] = binding.native.socketpair();
  let handle;
  try {
    await peer.send({ plain: 'with 4 fds' }, extra);
    await peer.send({ cmd: 'NODE_HANDLE', type: 'net.Native', msg: 'mine' }, [mine]);
    [, handle] = await message((m) => m === 'mine');
    assert.ok(handle && typeof handle.fd === 'number', 'a raw Pipe arrived');
    const ino = (fd) => fs.fstatSync(fd).ino;
    assert.strictEqual(ino(handle.fd), ino(mine), 'the handle is the socket sent with NODE_HANDLE');
  } finally {
    for (const fd of [...extra, mine, other]) fs.closeSync(fd);
    await closeHandle(handle);
    await close();
  }
  assertNoFdLeak(fds);
});

(SKIP_FDS ? test.skip : test)('a UDP fd labelled net.Socket/net.Server/unknown is refused or arrives as a closable handle', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const udp = await udpSocket(); // closed below, before the leak check
  const { peer, messages, errors, message, close } = pair();
  try {
    for (const type of ['net.Socket', 'net.Server', 'bogus']) {
      await peer.send({ cmd: 'NODE_HANDLE', type, msg: type }, [udp.fd]);
    }
    await peer.send('after');
    await message(isAfter);
    assert.strictEqual(messages.length - 1 + errors.length, 3);
    for (const [m, h] of messages.slice(0, -1)) {
      assert.ok(h && (typeof h.close === 'function' || typeof h.destroy === 'function'),
                `${m}: got ${require('util').inspect(h)}`);
    }
  } finally {
    await Promise.all(messages.map(([, h]) => closeHandle(h)));
    await close();
    udp.socket.close();
  }
  assertNoFdLeak(fds);
});

(SKIP_FDS ? test.skip : test)('fd table exhaustion by a peer (RLIMIT_NOFILE 128) does not kill the receiver, which keeps delivering', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const [ours, theirs] = binding.native.socketpair();
  const victim = childProcess.spawn('/bin/sh', [
    '-c', 'ulimit -n 128 && exec "$0" "$@"', process.execPath, fixture('hostile-victim.js'), 'exhaust',
  ], { stdio: ['ignore', 'pipe', 'pipe', ours], env: { ...process.env, PIPEWRAP_BINDING: '' } });
  fs.closeSync(ours);
  const exited = guard(victim, 15000);
  let out = '';
  let err = '';
  victim.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  victim.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  const peer = rawPeer(theirs);
  const N = 100;
  for (let i = 0; i < N; i++) {
    const extra = [fs.openSync('/dev/null', 'r'), fs.openSync('/dev/null', 'r'), fs.openSync('/dev/null', 'r')];
    const status = await peer.send({ i }, extra);
    for (const fd of extra) fs.closeSync(fd);
    if (status !== 0) break;
  }
  await peer.send('after');
  await peer.eofSeen; // the victim disconnects after 'after'
  await peer.close();
  const r = await exited;
  await new Promise((resolve) => (victim.stdout.readableEnded ? resolve() : victim.stdout.once('end', resolve)));
  assert.deepStrictEqual([r.code, r.signal, r.timedOut], [0, null, false], err);
  const report = JSON.parse(out);
  assert.deepStrictEqual(report.messages, [...Array.from({ length: N }, (_, i) => ({ i })), 'after']);
  assert.strictEqual(report.disconnected, true);
  // Not asserted (it depends on the hoarding todo above): how full the table got.
  t.log(`victim: ${report.fdsOpen} fds open at "after", open(/dev/null): ${report.canOpen}`);
  await settle();
  assertNoFdLeak(fds);
});

(SKIP_FDS || (childProcess.spawnSync('python3', ['-c', 'import socket; socket.send_fds']).status !== 0 && 'no python3 with socket.send_fds') ? test.skip : test)('more fds in one sendmsg than we take per read (200, from a Python peer): truncated, none leaks', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const [ours, theirs] = binding.native.socketpair();
  const { ch, messages, seen } = (() => {
    const c = openChannel(ours);
    const s = [];
    const m = [];
    c.on('error', (e) => s.push(`error ${e.code}`));
    c.on('message', (x, h) => {
      m.push([x, h]);
      s.push(`message ${JSON.stringify(x)}${h ? ` +${h.constructor.name}` : ''}`);
    });
    return { ch: c, messages: m, seen: s };
  })();
  const py = [
    'import os, socket, sys',
    's = socket.socket(fileno=3)',
    'fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(200)]',
    'a, b = socket.socketpair()',
    'socket.send_fds(s, [b\'{"cmd":"NODE_HANDLE","type":"net.Native","msg":"200"}\\n\'], [a.fileno()] + fds)',
    'socket.send_fds(s, [b\'{"plain":"200"}\\n\'], fds)',
    's.sendall(b\'"after"\\n\')',
    'print(s.recv(100).decode().strip(), flush=True)',
    's.recv(100)',
  ].join('\n');
  const child = childProcess.spawn('python3', ['-c', py], { stdio: ['ignore', 'pipe', 'inherit', theirs] });
  fs.closeSync(theirs);
  const exited = guard(child, 15000);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  await events(ch, 'message', 1, (m) => m === 'after');
  const handles = messages.map(([, h]) => h).filter(Boolean);
  assert.deepStrictEqual(seen, ['message "200" +Pipe', 'message {"plain":"200"}', 'message "after"']);
  await Promise.all(handles.map(closeHandle));
  const disconnected = events(ch, 'disconnect');
  ch.disconnect();
  await disconnected;
  const r = await exited;
  assert.deepStrictEqual([r.code, r.timedOut], [0, false]);
  assert.strictEqual(out.trim(), '{"cmd":"NODE_HANDLE_ACK"}');
  await settle();
  if (process.env.PIPEWRAP_TEST_QEMU === '1') {
    // Under qemu-user (npm run test:arm64), not a pipewrap leak: qemu gives
    // the host kernel a control buffer twice the size of ours, the kernel
    // installs the fds that fit in it (132 on 64-bit Linux), and qemu copies
    // back the 64 that fit in ours without reporting or closing the rest:
    // 68 per truncated read, two reads here, all the peer's /dev/null. They
    // never reach pipewrap (a real kernel closes them: x64 in `npm test`;
    // crates/core/tests/sys_platform.rs shows the same with no Node). Exactly
    // those are closed here; any other fd left open still fails below.
    const artefact = fdDiff(fds);
    assert.deepStrictEqual(artefact.map((l) => l.replace(/^\d+ /, '')), Array(2 * 68).fill('-> /dev/null'));
    for (const l of artefact) fs.closeSync(Number.parseInt(l, 10));
  }
  assertNoFdLeak(fds);
});

(SKIP_FDS ? test.skip : test)('NODE_HANDLE whose type does not match its socket (unix/TCP/UDP x every type): no crash, nothing leaks', async (t) => {
  t.timeout(T.timeout);
  const server = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  await events(server, 'listening');
  const udp = await udpSocket();
  const fds = fdSnapshot();
  const { ch, peer, messages, errors, message, close } = pair();
  const sockets = {
    unix: async () => {
      const [a, b] = binding.native.socketpair();
      return { fd: a, done: () => { fs.closeSync(a); fs.closeSync(b); } };
    },
    tcp: async () => {
      const c = net.connect(server.address().port, '127.0.0.1');
      await events(c, 'connect');
      return { fd: c._handle.fd, done: () => c.destroy() };
    },
    udp: async () => ({ fd: udp.fd, done: () => {} }),
  };
  const types = ['net.Socket', 'net.Server', 'net.Native', 'dgram.Socket', 'dgram.Native', 'bogus', 42];
  let sent = 0;
  for (const [kind, make] of Object.entries(sockets)) {
    for (const type of types) {
      const s = await make();
      await peer.send({ cmd: 'NODE_HANDLE', type, msg: `${kind}/${type}` }, [s.fd]);
      s.done();
      sent++;
    }
  }
  await peer.send('after');
  await message(isAfter);
  assert.strictEqual(ch.connected, true);
  for (const e of errors) assert.strictEqual(e.code, 'ERR_IPC_BAD_HANDLE');
  assert.strictEqual(messages.length - 1 + errors.length, sent, 'each handle message: a message or an error');
  await Promise.all(messages.map(([, h]) => closeHandle(h)));
  await close();
  assertNoFdLeak(fds);
  server.close();
  udp.socket.close();
});

(SKIP_FDS ? test.skip : test)('a NODE_HANDLE that fails to convert does not close an unrelated fd (double close)', async (t) => {
  t.timeout(T.timeout);
  const server = net.createServer((s) => s.destroy()).listen(0, '127.0.0.1');
  await events(server, 'listening');
  const client = net.connect(server.address().port, '127.0.0.1');
  await events(client, 'connect');
  const { ch, peer, seen, message, close } = pair();
  const mine = [];
  ch.on('message', (m) => {
    // Runs on the tick between net's own close of the fd and the error.
    if (m === 'open-files') for (let i = 0; i < 8; i++) mine.push(fs.openSync(__filename, 'r'));
  });
  try {
    await peer.write('"open-files"\n{"cmd":"NODE_HANDLE","type":"net.Server","msg":"x"}\n', [client._handle.fd]);
    await peer.send('after');
    await message(isAfter);
    assert.deepStrictEqual(seen, ['message "open-files"', 'error ERR_IPC_BAD_HANDLE', 'message "after"']);
    const closedBehindOurBack = mine.filter((fd) => {
      try {
        fs.fstatSync(fd);
        return false;
      } catch {
        return true;
      }
    });
    assert.deepStrictEqual(closedBehindOurBack, []);
  } finally {
    for (const fd of mine) {
      try { fs.closeSync(fd); } catch { /* the bug closed it */ }
    }
    client.destroy();
    server.close();
    await close();
  }
});

// ------------------------------------------------------------------ advanced mode

test('advanced: bad V8 header, unknown host tag, empty and truncated payloads -> ERR_IPC_BAD_MESSAGE; channel continues', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { ch, peer, seen, message, close } = pair({ serialization: 'advanced' });
  const rnd = prng(0xad);
  await peer.write(frame(Buffer.from([0xff, 0x7f, 0x49, 0x02])));   // version 127
  await peer.write(frame(Buffer.from([0x00, 0x01, 0x02, 0x03])));   // no header at all
  await peer.write(frame(Buffer.from([0xff, 0x0f, 0x5c, 0x07])));   // host object, tag 7
  await peer.write(frame(Buffer.alloc(0)));                          // empty payload
  await peer.write(frame(Buffer.from([0xff, 0x0f, 0x6f, 0x22, 0x05, 0x61]))); // truncated object
  await peer.write(frame(Buffer.concat([Buffer.from([0xff, 0x0f]), rnd.bytes(300)])));
  // A valid frame whose length field is split across writes.
  const good = peer.encode({ after: 'split' });
  await peer.write(good.subarray(0, 2));
  await peer.write(good.subarray(2, 7));
  await peer.write(good.subarray(7));
  await peer.send('after');
  await message(isAfter);
  const errs = seen.filter((s) => s.startsWith('error'));
  assert.ok(errs.length >= 5, seen.join('\n'));
  assert.ok(errs.every((s) => s === 'error ERR_IPC_BAD_MESSAGE'), seen.join('\n'));
  assert.deepStrictEqual(seen.slice(-2), ['message {"after":"split"}', 'message "after"']);
  assert.strictEqual(ch.connected, true);
  await close();
  assertNoFdLeak(fds);
});

test('advanced: a declared length over maxMessageSize disconnects at once, without waiting for the bytes', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const { ch, peer, seen, errors, disconnected, close } = pair({ serialization: 'advanced' });
  await peer.send('before');
  await peer.write(frame(Buffer.alloc(10), LIMIT + 1));
  await disconnected;
  await peer.eofSeen;
  assert.deepStrictEqual(seen, ['message "before"', 'error ERR_IPC_MESSAGE_TOO_LARGE', 'disconnect']);
  assert.strictEqual(errors[0].size, LIMIT + 1);
  assert.strictEqual(ch.connected, false);
  await close();
  assertNoFdLeak(fds);
});

// ------------------------------------------------------------------ no listener / fork

test("no 'error' listener: peer faults become process warnings and the process lives on", async (t) => {
  t.timeout(T.timeout);
  const child = childProcess.spawn(process.execPath, [fixture('hostile-victim.js'), 'no-listener'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = guard(child, 15000);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  const r = await exited;
  await new Promise((resolve) => (child.stdout.readableEnded ? resolve() : child.stdout.once('end', resolve)));
  assert.deepStrictEqual([r.code, r.signal, r.timedOut], [0, null, false], err);
  const report = JSON.parse(out);
  assert.deepStrictEqual(report.warnings, ['ERR_IPC_BAD_MESSAGE', 'ERR_IPC_BAD_HANDLE', 'ERR_IPC_MESSAGE_TOO_LARGE']);
  assert.deepStrictEqual(report.messages, ['after']);
  assert.strictEqual(report.disconnected, true);
  assert.strictEqual(report.connected, false);
  assert.strictEqual(report.peerEof, true);
  assert.ok(report.peerBytes < 4 * 1024 * 1024, `read ${report.peerBytes} bytes of an endless line`);
  assert.deepStrictEqual(report.peerReplies, [{ cmd: 'NODE_HANDLE_NACK' }]);
  assert.match(err, /\[ERR_IPC_BAD_MESSAGE\]/);
  assert.doesNotMatch(err, /Uncaught|at process\.processTicksAndRejections/);
});

const hostileChild = (attack, options = {}) => fork(fixture('hostile-fork-peer.js'), ['3', attack], {
  execPath: '/usr/bin/env',
  execArgv: ['-u', 'NODE_CHANNEL_FD', '-u', 'NODE_CHANNEL_SERIALIZATION_MODE', process.execPath],
  maxMessageSize: LIMIT,
  ...options,
});

function record(child) {
  const seen = [];
  child.on('error', (e) => seen.push(`error ${e.code}`));
  child.on('message', (m, h) => seen.push(`message ${JSON.stringify(m)}${h ? ' +handle' : ''}`));
  return seen;
}

(SKIP_FDS ? test.skip : test)('fork(): a raw hostile child (garbage, bad UTF-8, a file as a handle, fds on a plain message)', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const child = hostileChild('mixed');
  const exited = guard(child, 15000);
  const seen = record(child);
  await events(child, 'message', 1, (m) => m === 'after');
  child.send({ op: 'report' });
  const [[report]] = await events(child, 'message', 1, (m) => m && m.op === 'report');
  assert.deepStrictEqual(seen.slice(0, 5), [
    'error ERR_IPC_BAD_MESSAGE', 'error ERR_IPC_BAD_MESSAGE', 'error ERR_IPC_BAD_HANDLE',
    'message {"plain":"with fds"}', 'message "after"',
  ]);
  assert.deepStrictEqual(report.replies, [{ cmd: 'NODE_HANDLE_NACK' }]);
  const closed = events(child, 'close');
  child.disconnect();
  const r = await exited;
  await closed;
  assert.deepStrictEqual([r.code, r.timedOut], [0, false]);
  await settle();
  assertNoFdLeak(fds);
});

test('fork(): a child writing an endless line is cut off at maxMessageSize', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const child = hostileChild('endless');
  const exited = guard(child, 15000);
  const seen = record(child);
  const closed = events(child, 'close');
  await events(child, 'disconnect');
  const r = await exited;
  await closed;
  assert.deepStrictEqual(seen, ['message "before"', 'error ERR_IPC_MESSAGE_TOO_LARGE']);
  assert.deepStrictEqual([r.code, r.timedOut], [0, false], 'the child saw EOF before writing 8 MiB');
  await settle();
  assertNoFdLeak(fds);
});

test('fork() advanced: garbage frames, then a length over the limit', async (t) => {
  t.timeout(T.timeout);
  const fds = fdSnapshot();
  const child = hostileChild('advanced', { serialization: 'advanced' });
  const exited = guard(child, 15000);
  const seen = record(child);
  const closed = events(child, 'close');
  await events(child, 'disconnect');
  const r = await exited;
  await closed;
  assert.deepStrictEqual(seen, [
    'error ERR_IPC_BAD_MESSAGE', 'error ERR_IPC_BAD_MESSAGE', 'message {"after":true}', 'error ERR_IPC_MESSAGE_TOO_LARGE',
  ]);
  assert.deepStrictEqual([r.code, r.timedOut], [0, false]);
  await settle();
  assertNoFdLeak(fds);
});
