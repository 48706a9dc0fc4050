'use strict';
// Async context (async_hooks, AsyncLocalStorage) at the net and IPC layers,
// against Node's own in the same run: a write's callback runs in the context
// of the call that made the write, not in the connection's. Serial: a hook
// one test enables is seen by everything running then.

const test = require('ava');
const assert = require('node:assert/strict');
const { AsyncLocalStorage } = require('node:async_hooks');
const childProcess = require('node:child_process');
const nodeNet = require('node:net');
const path = require('node:path');

const pipewrap = require('../lib/index.js');
const { tmpdir } = require('./net-helpers');

const T = { timeout: 30000 };
const CHILD = path.join(__dirname, 'fixtures', 'ipc-node-child.js');

// Connect in one store, write (one write queued behind a full socket, one
// behind it) and end in another; which store each callback and event sees.
function netScenario(net, sockPath) {
  const als = new AsyncLocalStorage();
  const seen = [];
  const see = (what) => seen.push(`${what}:${als.getStore()}`);
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      s.pause(); // let the client's big write queue up
      setTimeout(() => s.resume(), 50);
      s.on('data', () => {});
      s.on('end', () => s.end('bye'));
    });
    server.on('error', reject);
    server.listen(sockPath, () => {
      let c;
      als.run('connection', () => {
        c = net.connect(sockPath, () => {
          see('connect cb');
          als.run('writes', () => {
            c.write(Buffer.alloc(8 << 20, 1), () => see('queued write cb'));
            c.write('x', () => see('next write cb'));
          });
          als.run('ending', () => c.end(() => see('end cb')));
        });
      });
      c.on('data', () => see('data'));
      c.on('error', reject);
      c.on('close', () => {
        see('close');
        server.close(() => resolve(seen));
      });
    });
  });
}

test.serial('net: write, end and connect callbacks see the store of the call that made them, as with node:net', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  const node = await netScenario(nodeNet, path.join(dir, 'node.sock'));
  const ours = await netScenario(pipewrap, path.join(dir, 'ours.sock'));
  assert.ok(node.includes('queued write cb:writes'), `the scenario queues a write under Node: ${node}`);
  assert.deepEqual(ours, node);
});

// Sends batched behind a pending write (pipewrap writes them together later)
// still call back in their own send()'s store, as Node's per-message writes do.
function ipcScenario(fork) {
  const als = new AsyncLocalStorage();
  const seen = [];
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`no exit; callbacks so far: ${seen}`));
    }, T.timeout - 5000);
    child.on('error', reject);
    child.once('message', () => {
      for (const id of ['A', 'B', 'C', 'D']) {
        als.run(id, () => child.send({ pad: id === 'A' ? 'x'.repeat(300000) : id }, (err) => seen.push(`${id}:${als.getStore()}:${err}`)));
      }
      als.run('E', () => child.send({ op: 'bye' }, (err) => seen.push(`E:${als.getStore()}:${err}`)));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`child exit ${code}`));
      resolve(seen);
    });
  });
}

test.serial('IPC: every send() callback sees its own send\'s store, batched or not, as with child_process.fork', async (t) => {
  t.timeout(T.timeout);
  // Sorted: Node calls A back before or after the others, depending on
  // whether the rest of its big write left inside uv_write (then the small
  // ones complete at once, their callbacks on the next tick); the context of
  // each is what this test is about.
  const node = (await ipcScenario(childProcess.fork)).sort();
  const ours = (await ipcScenario(pipewrap.fork)).sort();
  assert.deepEqual(node, ['A:A:null', 'B:B:null', 'C:C:null', 'D:D:null', 'E:E:null']);
  assert.deepEqual(ours, node);
});

// An init hook that writes on another socket while a write is being queued
// (pipewrap makes the queued write's context then; Node at `new WriteWrap()`):
// the first write still reports backpressure as Node's does.
function hookScenario(net, sockPath) {
  const { createHook } = require('node:async_hooks');
  const connected = (s) => new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return new Promise((resolve, reject) => {
    const accepted = [];
    let bothAccepted;
    const acceptedTwo = new Promise((r) => (bothAccepted = r));
    const server = net.createServer((s) => {
      s.pause(); // nothing read: the client's big write stays queued
      s.on('error', () => {});
      if (accepted.push(s) === 2) bothAccepted();
    });
    server.on('error', reject);
    server.listen(sockPath, async () => {
      const side = net.connect(sockPath);
      const c = net.connect(sockPath);
      await Promise.all([connected(side), connected(c), acceptedTwo]);
      let inHook = false;
      const hook = createHook({
        init(id, type) {
          if (type !== 'WRITEWRAP' || inHook) return;
          inHook = true;
          side.write('z'); // a write the kernel takes whole
          inHook = false;
        },
      }).enable();
      let ret;
      try {
        ret = c.write(Buffer.alloc(8 << 20, 1));
      } finally {
        hook.disable();
      }
      const seen = { ret, queued: c.writableLength > 0, needDrain: c.writableNeedDrain };
      for (const s of [c, side]) s.on('error', () => {});
      server.close(() => resolve(seen));
      for (const s of [side, c, ...accepted]) s.destroy();
    });
  });
}

test.serial('an init hook writing elsewhere does not change what a queued write reports, as with node:net', async (t) => {
  t.timeout(T.timeout);
  const dir = tmpdir(t);
  const node = await hookScenario(nodeNet, path.join(dir, 'node.sock'));
  const ours = await hookScenario(pipewrap, path.join(dir, 'ours.sock'));
  assert.deepEqual(node, { ret: false, queued: true, needDrain: true });
  assert.deepEqual(ours, node);
});
