'use strict';
const pw = require('pipewrap');
const { tempSocket, listen, echo, pairEcho, close } = require('../shared');

test('echo, socketpair (1)', async () => {
  const t = tempSocket('jest1');
  const server = await listen(pw, t.sock);
  expect(await echo(pw, t.sock, 'hello 1')).toBe('hello 1');
  expect(await pairEcho(pw)).toBe('over a socketpair');
  await close(server);
  t.cleanup();
});
