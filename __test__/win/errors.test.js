'use strict';
// Error cases on Windows: codes compared with Node's own, and the Unix-only
// extras of pipewrap refusing with a coded error.
const h = require('./harness');
const { assert, scenario, pipewrapOnly, pipeName, listen, closeServer, once, errInfo, runNode, path, FIXTURES } = h;

for (const style of ['.', '?']) {
  scenario(`connect to a missing \\\\${style}\\pipe\\ name: ENOENT, then close`, async (impl) => {
    const name = pipeName('missing', style);
    const c = impl.connect(name);
    const log = [];
    c.on('connect', () => log.push('connect'));
    const err = await new Promise((resolve) => c.on('error', resolve));
    log.push({ ...errInfo(err), address: err.address === name ? 'same' : err.address });
    await once(c, 'close').catch(() => {});
    log.push(`destroyed ${c.destroyed}`);
    return log;
  }, { expect: (t) => assert.equal(t[0].code, 'ENOENT') });
}

// Windows refuses a second server on a taken name (libuv creates the first
// instance with FILE_FLAG_FIRST_PIPE_INSTANCE: EADDRINUSE). Wine 8 does not
// enforce that flag: Node's own second listen() succeeds there. The scenario
// compares with Node under the same Wine, and asserts EADDRINUSE whenever the
// oracle gives it (so on Windows, or a Wine that enforces it, it is required).
scenario('listen on a taken name: Node\'s result (EADDRINUSE on Windows)', async (impl, { t }) => {
  const name = pipeName('taken');
  const first = impl.createServer();
  await listen(first, name);
  const second = impl.createServer();
  const result = await new Promise((resolve) => {
    second.once('error', (err) => resolve({ error: errInfo(err) }));
    second.listen(name, () => resolve({ listening: true }));
  });
  if (second.listening) await closeServer(second);
  await closeServer(first);
  // The same from another process (the usual case: a second instance of a daemon).
  const other = await runNode([path.join(FIXTURES, 'listen-once.js'), name], { env: { PW_IMPL: impl.name } });
  const holder = impl.createServer();
  await listen(holder, name);
  const cross = await runNode([path.join(FIXTURES, 'listen-once.js'), name], { env: { PW_IMPL: impl.name } });
  await closeServer(holder);
  if (result.listening) t.diagnostic('Wine does not enforce FILE_FLAG_FIRST_PIPE_INSTANCE: a second listen() on a taken name succeeds (Windows: EADDRINUSE)');
  return { sameProcess: result, freeName: other.stdout.trim(), otherProcess: cross.stdout.trim() };
}, {
  expect: (t) => {
    assert.equal(t.freeName, 'listening');
    if (t.sameProcess.error) assert.equal(t.sameProcess.error.code, 'EADDRINUSE');
    if (t.otherProcess !== 'listening') assert.equal(t.otherProcess, 'error EADDRINUSE');
  },
});

scenario('connect after the server closed: ENOENT', async (impl) => {
  const name = pipeName('gone');
  const server = impl.createServer();
  await listen(server, name);
  await closeServer(server);
  const c = impl.connect(name);
  const err = await new Promise((resolve) => c.on('error', resolve));
  return errInfo(err);
}, { expect: (t) => assert.equal(t.code, 'ENOENT') });

scenario('listen() on a name that is not a pipe name', async (impl) => {
  // A plain path on Windows: Node passes it to libuv, which makes it a pipe
  // name or refuses; whatever Node does is the contract.
  const server = impl.createServer();
  const res = await new Promise((resolve) => {
    server.once('error', (err) => resolve({ error: errInfo(err) }));
    server.listen(`C:\\not-a-pipe-${process.pid}`, () => resolve({ listening: true, address: typeof server.address() }));
  });
  if (server.listening) await closeServer(server);
  return res;
});

scenario('write after end: ERR_STREAM_WRITE_AFTER_END', async (impl) => {
  const name = pipeName('wae');
  const server = impl.createServer((s) => s.resume());
  await listen(server, name);
  const c = impl.connect(name);
  await once(c, 'connect');
  c.end();
  const err = await new Promise((resolve) => { c.once('error', resolve); c.write('x'); });
  c.destroy();
  await closeServer(server);
  return { code: err.code };
}, { expect: (t) => assert.equal(t.code, 'ERR_STREAM_WRITE_AFTER_END') });

// --- pipewrap's Unix-only extras on Windows -----------------------------
// Each must refuse with a coded error (ERR_FEATURE_UNAVAILABLE_ON_PLATFORM,
// Node's own code for "not on this OS"), synchronously or as the 'error'
// event of the server/socket, and must not half-work: nothing listening,
// nothing connected.
const UNAVAILABLE = 'ERR_FEATURE_UNAVAILABLE_ON_PLATFORM';

async function refusal(fn, emitterOf) {
  let emitter;
  try {
    emitter = fn();
  } catch (err) {
    return err;
  }
  const target = emitterOf ? emitterOf(emitter) : emitter;
  return h.withTimeout(new Promise((resolve, reject) => {
    target.once('error', resolve);
    target.once('listening', () => reject(new Error('listened instead of refusing')));
    target.once('connect', () => reject(new Error('connected instead of refusing')));
  }), 10000, 'refusal');
}

function assertUnavailable(err, what) {
  assert.ok(err instanceof Error, `${what}: not an Error`);
  assert.equal(err.code, UNAVAILABLE, `${what}: code ${err.code} (${err.message})`);
  assert.match(err.message, /windows|win32|unix|linux|platform/i, `${what}: the message should say why`);
}

pipewrapOnly('Unix-only: createServer({ fdPassing: true }) and connect({ fdPassing })', async ({ pw }) => {
  const name = pipeName('fdp');
  assertUnavailable(await refusal(() => pw.createServer({ fdPassing: true }).listen(name)), 'createServer fdPassing');
  const server = pw.createServer();
  await listen(server, name);
  assertUnavailable(await refusal(() => pw.connect({ path: name, fdPassing: true })), 'connect fdPassing');
  await closeServer(server);
});

pipewrapOnly('Unix-only: listen({ mode }) and listen({ reclaimStale })', async ({ pw }) => {
  for (const extra of [{ mode: 0o600 }, { reclaimStale: true }]) {
    const server = pw.createServer();
    assertUnavailable(await refusal(() => server.listen({ path: pipeName('opt'), ...extra })), JSON.stringify(extra));
    assert.equal(server.listening, false);
  }
});

pipewrapOnly('Unix-only: abstract names (\\0name) for listen and connect', async ({ pw }) => {
  const server = pw.createServer();
  assertUnavailable(await refusal(() => server.listen(`\0pw-${process.pid}`)), 'listen abstract');
  assert.equal(server.listening, false);
  assertUnavailable(await refusal(() => pw.connect(`\0pw-${process.pid}`)), 'connect abstract');
});

pipewrapOnly('Unix-only: sendFds; getPeerCredentials gives the pid only (Windows twin) or refuses', async ({ pw }) => {
  const name = pipeName('cred');
  let accepted;
  const server = pw.createServer((s) => { accepted = s; s.resume(); });
  await listen(server, name);
  const c = pw.connect(name);
  await once(c, 'connect');
  assertUnavailable(await refusal(() => c.sendFds([0], 'x')), 'sendFds');
  while (!accepted) await h.delay(10);
  for (const [side, sock] of [['client', c], ['accepted', accepted]]) {
    let creds;
    try {
      creds = sock.getPeerCredentials();
    } catch (err) {
      assertUnavailable(err, `${side} getPeerCredentials`);
      continue;
    }
    // GetNamedPipeClientProcessId / GetNamedPipeServerProcessId: the peer is this process.
    assert.equal(creds.pid, process.pid, `${side}: pid`);
    assert.equal(creds.uid, undefined, `${side}: no uid on Windows`);
    assert.equal(creds.gid, undefined, `${side}: no gid on Windows`);
  }
  c.destroy();
  accepted.destroy();
  await closeServer(server);
});
