'use strict';
// The brother-process example: two real processes over a Unix socket.

const test = require('ava');
const assert = require('node:assert/strict');
const path = require('node:path');

const { ROOT, tmpdir, runNode, spawnReady } = require('./net-helpers');

const EXAMPLE = path.join(ROOT, 'examples', 'brother-process');

test('examples/brother-process/run.js prints the exchange and exits 0', async (t) => {
  t.timeout(30000);
  const r = await runNode([path.join(EXAMPLE, 'run.js')], { timeout: 20000 });
  assert.equal(r.timedOut, false, r.stderr);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    'client -> {"hello":"brother"}',
    'server <- {"hello":"brother"}',
    'server -> "world"',
    'client <- world',
  ]);
});

test('UnixDomainClient.send() against server.js: replies, bad JSON error, clean shutdown', async (t) => {
  t.timeout(30000);
  const { UnixDomainClient } = require(path.join(EXAMPLE, 'client.js'));
  const p = path.join(tmpdir(t), 'b.sock');
  const { child, ready } = spawnReady([path.join(EXAMPLE, 'server.js'), p], { readyLine: 'ready' });
  t.teardown(() => child.kill('SIGKILL'));
  await ready;

  const client = new UnixDomainClient(p);
  assert.equal(await client.send({ hello: 'brother' }), 'world');
  // Concurrent requests each get their own connection and answer.
  const replies = await Promise.all([1, 2, 3].map((n) => client.send({ n, pad: 'x'.repeat(100000 * n) })));
  assert.deepEqual(replies, ['world', 'world', 'world']);

  // A non-JSON request gets an error object back (raw socket, not send()).
  const net = require('../lib/net');
  const raw = net.connect({ path: p });
  raw.end('not json');
  let text = '';
  raw.setEncoding('utf8').on('data', (d) => { text += d; });
  await new Promise((resolve) => raw.on('end', resolve));
  assert.match(JSON.parse(text).error, /^bad request/);

  await assert.rejects(new UnixDomainClient(path.join(path.dirname(p), 'nope')).send({}), { code: 'ENOENT' });

  child.kill('SIGTERM');
  const [code] = await new Promise((resolve) => child.on('exit', (...a) => resolve(a)));
  assert.equal(code, 0);
  assert.equal(require('node:fs').existsSync(p), false, 'socket unlinked on SIGTERM');
});
