'use strict';
// The raw binding on Windows: pipewrap's `binding` against Node's own
// process.binding('pipe_wrap') + process.binding('stream_wrap') in the same
// node.exe. Return codes, callback arguments and their order must match.
// (Node's binding aborts the process on misuse, so only well-formed calls.)
const h = require('./harness');
const { assert, scenario, pipeName, runNode, path, FIXTURES } = h;

const kReadBytesOrError = 0;
const UV_EOF = -4095;

// Run a sequence of raw steps; resolves with the trace when `done` is called.
function raw(impl, body, timeoutMs = 20000) {
  const b = impl.binding;
  const trace = [];
  return h.withTimeout(new Promise((resolve) => body(b, trace, () => resolve(trace))), timeoutMs, 'raw scenario');
}

scenario('raw Pipe: bind, listen, PipeConnectWrap oncomplete, write, shutdown, EOF, close', (impl) => raw(impl, (b, trace, done) => {
  const { Pipe, PipeConnectWrap, WriteWrap, ShutdownWrap, streamBaseState, constants } = b;
  const name = pipeName('raw');
  const server = new Pipe(constants.SERVER);
  trace.push(['bind', server.bind(name)]);
  trace.push(['listen', server.listen(4)]);
  let accepted;
  let closes = 0;
  const closed = (what) => () => { trace.push(['close cb', what]); if (++closes === 3) done(); };
  server.onconnection = (status, handle) => {
    trace.push(['onconnection', status, handle instanceof Pipe]);
    accepted = handle;
    let got = '';
    accepted.onread = (buf) => {
      const n = streamBaseState[kReadBytesOrError];
      if (buf) { got += Buffer.from(buf, 0, n).toString(); return; }
      trace.push(['server read', got, 'then', n === UV_EOF ? 'EOF' : n]);
      accepted.close(closed('accepted'));
      server.close(closed('server'));
    };
    trace.push(['server readStart', accepted.readStart()]);
  };
  const client = new Pipe(constants.SOCKET);
  const req = new PipeConnectWrap();
  req.oncomplete = (status, handle, r, readable, writable) => {
    trace.push(['oncomplete', status, handle === client, r === req, readable, writable]);
    const w = new WriteWrap();
    w.handle = client;
    w.oncomplete = (st) => trace.push(['write oncomplete', st]);
    trace.push(['writeUtf8String', client.writeUtf8String(w, 'hi there')]);
    const s = new ShutdownWrap();
    s.handle = client;
    s.oncomplete = (st) => { trace.push(['shutdown oncomplete', st]); client.close(closed('client')); };
    trace.push(['shutdown', client.shutdown(s)]);
  };
  trace.push(['connect', client.connect(req, name)]);
}), {
  expect: (t) => {
    assert.deepEqual(t[0], ['bind', 0]);
    assert.ok(t.some((e) => e[0] === 'server read' && e[1] === 'hi there' && e[3] === 'EOF'), JSON.stringify(t));
  },
});

scenario('raw Pipe: connect to a missing name completes with ENOENT', (impl) => raw(impl, (b, trace, done) => {
  const { Pipe, PipeConnectWrap, constants } = b;
  const client = new Pipe(constants.SOCKET);
  const req = new PipeConnectWrap();
  let sync = true;
  req.oncomplete = (status, handle, r, readable, writable) => {
    trace.push(['oncomplete', status, sync ? 'sync' : 'async', handle === client, readable, writable]);
    client.close(() => { trace.push(['closed']); done(); });
  };
  trace.push(['connect', client.connect(req, pipeName('nobody'))]);
  sync = false;
}), { expect: (t) => assert.equal(t[1][1], -4058) });

scenario('raw Pipe: bind on a name already bound in this process', (impl) => raw(impl, (b, trace, done) => {
  const { Pipe, constants } = b;
  const name = pipeName('twice');
  const a = new Pipe(constants.SERVER);
  const c = new Pipe(constants.SERVER);
  trace.push(['bind a', a.bind(name)], ['listen a', a.listen(4)]);
  trace.push(['bind b', c.bind(name)], ['listen b', c.listen(4)]);
  let n = 0;
  const closed = (what) => () => { trace.push(['closed', what]); if (++n === 2) done(); };
  a.close(closed('a'));
  c.close(closed('b'));
}));

scenario('raw Pipe: ref/unref/hasRef, and close callbacks in order', (impl) => raw(impl, (b, trace, done) => {
  const { Pipe, constants } = b;
  const p = new Pipe(constants.SOCKET);
  trace.push(['hasRef', p.hasRef()]);
  p.unref();
  trace.push(['after unref', p.hasRef()]);
  p.ref();
  trace.push(['after ref', p.hasRef()]);
  const q = new Pipe(constants.IPC);
  let n = 0;
  p.close(() => { trace.push(['close p']); if (++n === 2) done(); });
  q.close(() => { trace.push(['close q']); if (++n === 2) done(); });
}));

scenario('raw Pipe: open(0) on a child\'s stdin pipe, read to EOF', async (impl) => {
  const r = await runNode([path.join(FIXTURES, 'open-stdin.js')], { env: { PW_IMPL: impl.name }, stdio: ['pipe', 'pipe', 'pipe'], input: 'from the parent' });
  return { code: r.code, out: r.stdout.trim(), err: r.stderr.trim() };
}, { expect: (t) => assert.equal(t.code, 0) });
