'use strict';
// Two copies of the JS layer side by side: the first copy's server stays
// live across jest.resetModules(), the second copy talks to it, and sends it
// through its own fork channel.
const { tempSocket, listen, echo, sendServer, close } = require('../shared');

test('a reset module registry keeps the earlier copy working', async () => {
  const first = require('pipewrap');
  const t = tempSocket('jestreset');
  const server = await listen(first, t.sock);
  jest.resetModules();
  const second = require('pipewrap');
  expect(second).not.toBe(first);
  expect(await echo(second, t.sock, 'from the second copy')).toBe('from the second copy');
  expect(await echo(first, t.sock, 'from the first copy')).toBe('from the first copy');
  const answer = await sendServer(second, server);
  expect(answer).toEqual({ echo: 'take this', handle: 'Server' });
  await close(server);
  t.cleanup();
});
