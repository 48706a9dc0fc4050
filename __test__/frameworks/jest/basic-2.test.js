'use strict';
const pw = require('pipewrap');
const { tempSocket, listen, echo, pairEcho, close } = require('../shared');

test('echo, socketpair (2)', async () => {
  const t = tempSocket('jest2');
  const server = await listen(pw, t.sock);
  expect(await echo(pw, t.sock, 'hello 2')).toBe('hello 2');
  expect(await pairEcho(pw)).toBe('over a socketpair');
  await close(server);
  t.cleanup();
});
