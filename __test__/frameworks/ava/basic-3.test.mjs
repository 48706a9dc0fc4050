import test from 'ava';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const pw = require('pipewrap');
const { tempSocket, listen, echo, pairEcho, sendServer, close } = require('../shared.js');

test('echo, socketpair, fork (3)', async (t) => {
  const s = tempSocket('ava3');
  const server = await listen(pw, s.sock);
  t.is(await echo(pw, s.sock, 'hello 3'), 'hello 3');
  t.is(await pairEcho(pw), 'over a socketpair');
  t.deepEqual(await sendServer(pw, server), { echo: 'take this', handle: 'Server' });
  await close(server);
  s.cleanup();
});

test('named ESM imports (3)', async (t) => {
  const named = await import('pipewrap');
  t.is(typeof named.createServer, 'function');
  t.is(named.default.connect, named.connect);
});
