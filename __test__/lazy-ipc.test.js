'use strict';
// The IPC layer is loaded on first use: require('pipewrap') for sockets
// alone does not compile lib/ipc*.js or lib/fork.js; touching fork,
// openChannel or IPCChannel loads it, and they are the same values as the
// IPC module's own.

const test = require('ava');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

// Runs `body` in a fresh Node process (its own module cache); it prints JSON.
function inFreshProcess(body) {
  const out = execFileSync(process.execPath, ['-e', `
    const loaded = () => Object.keys(require.cache).map((k) => require('path').basename(k)).filter((k) => /^(ipc|fork)/.test(k)).sort();
    const pw = require(${JSON.stringify(root)});
    ${body}
  `], { encoding: 'utf8', timeout: 30000 });
  return JSON.parse(out);
}

test('sockets alone do not load the IPC layer; fork, openChannel and IPCChannel load it', () => {
  const r = inFreshProcess(`
    const before = loaded();
    const keys = Object.keys(pw);
    const server = pw.createServer();
    const afterNet = loaded();
    const { fork, openChannel, IPCChannel } = pw;
    const ipc = require(${JSON.stringify(path.join(root, 'lib', 'ipc.js'))});
    console.log(JSON.stringify({
      before, afterNet, after: loaded(), keys,
      same: fork === ipc.fork && openChannel === ipc.openChannel && IPCChannel === ipc.IPCChannel,
      types: [typeof fork, typeof openChannel, typeof IPCChannel],
    }));
    server.close();
  `);
  assert.deepEqual(r.before, []);
  assert.deepEqual(r.afterNet, []);
  assert.ok(r.after.includes('ipc.js') && r.after.includes('fork.js'), r.after.join(' '));
  assert.ok(['fork', 'openChannel', 'IPCChannel'].every((k) => r.keys.includes(k)), 'still enumerable');
  assert.equal(r.same, true);
  assert.deepEqual(r.types, ['function', 'function', 'function']);
});

test('the lazy members keep their place, and can be assigned (strict mode) before and after first use', () => {
  const r = inFreshProcess(`
    'use strict';
    const order = Object.keys(pw);
    pw.openChannel = function stubbed() {};
    const afterAssign = loaded();
    const real = pw.fork;
    pw.fork = function stubbedFork() {};
    const d = Object.getOwnPropertyDescriptor(pw, 'fork');
    console.log(JSON.stringify({
      order, afterAssign, openChannel: pw.openChannel.name, fork: pw.fork.name, realType: typeof real,
      descriptor: { writable: d.writable, enumerable: d.enumerable, configurable: d.configurable },
      orderAfter: Object.keys(pw),
    }));
  `);
  const i = r.order.indexOf('createConnection');
  assert.deepEqual(r.order.slice(i + 1, i + 4), ['fork', 'openChannel', 'IPCChannel']);
  assert.deepEqual(r.orderAfter, r.order);
  assert.deepEqual(r.afterAssign, [], 'assigning does not load the IPC layer');
  assert.equal(r.openChannel, 'stubbed');
  assert.equal(r.fork, 'stubbedFork');
  assert.equal(r.realType, 'function');
  assert.deepEqual(r.descriptor, { writable: true, enumerable: true, configurable: true });
});
