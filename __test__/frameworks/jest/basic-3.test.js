'use strict';
const pw = require('pipewrap');
const { tempSocket, listen, echo, pairEcho, close } = require('../shared');

test('echo, socketpair (3)', async () => {
  const t = tempSocket('jest3');
  const server = await listen(pw, t.sock);
  expect(await echo(pw, t.sock, 'hello 3')).toBe('hello 3');
  expect(await pairEcho(pw)).toBe('over a socketpair');
  await close(server);
  t.cleanup();
});
