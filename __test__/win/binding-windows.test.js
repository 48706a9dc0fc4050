'use strict';
// The Windows-only methods of the raw binding (setPendingInstances, and
// fchmod, which Node has on Windows only), against process.binding('pipe_wrap')
// in the same node.exe. A file of its own: a native crash here must not hide
// the other binding scenarios.
const h = require('./harness');
const { assert, scenario, pipeName } = h;

// Run a sequence of raw steps; resolves with the trace when `done` is called.
function raw(impl, body, timeoutMs = 20000) {
  const b = impl.binding;
  const trace = [];
  return h.withTimeout(new Promise((resolve) => body(b, trace, () => resolve(trace))), timeoutMs, 'raw scenario');
}

scenario('raw Pipe: Windows-only setPendingInstances, and fchmod', (impl) => raw(impl, (b, trace, done) => {
  const { Pipe, constants } = b;
  const server = new Pipe(constants.SERVER);
  trace.push(['setPendingInstances type', typeof server.setPendingInstances]);
  trace.push(['setPendingInstances(8)', server.setPendingInstances(8)]);
  trace.push(['bind', server.bind(pipeName('inst'))]);
  trace.push(['listen', server.listen(511)]);
  trace.push(['fchmod type', typeof server.fchmod]);
  trace.push(['fchmod rw', server.fchmod(constants.UV_READABLE | constants.UV_WRITABLE)]);
  trace.push(['fchmod r', server.fchmod(constants.UV_READABLE)]);
  server.close(() => { trace.push(['closed']); done(); });
}), { expect: (t) => assert.deepEqual(t[0], ['setPendingInstances type', 'function']) });

scenario('raw Pipe: setPendingInstances after bind, before listen', (impl) => raw(impl, (b, trace, done) => {
  const { Pipe, constants } = b;
  const server = new Pipe(constants.SERVER);
  trace.push(['bind', server.bind(pipeName('inst2'))]);
  trace.push(['setPendingInstances(2)', server.setPendingInstances(2)]);
  trace.push(['listen', server.listen(511)]);
  server.close(() => { trace.push(['closed']); done(); });
}), { expect: (t) => assert.deepEqual(t[0], ['bind', 0]) });

// pipewrap's setPeerPid (fork() tells libuv the child's pid with it): only on
// an IPC pipe that is an end (opened on an fd, here one of socketpair()'s),
// never on a server or a plain pipe, and EBADF once closed.
h.pipewrapOnly('raw Pipe: setPeerPid only on an IPC pipe end', (impl) => {
  const b = impl.binding;
  const { Pipe, constants } = b;
  const { native } = require(h.path.join(h.ROOT, 'lib', 'binding.js'));
  const EINVAL = -4071;
  const EBADF = -4083;
  const [fa, fb] = native.socketpair();
  const ipc = new Pipe(constants.IPC);
  const plain = new Pipe(constants.SOCKET);
  const fresh = new Pipe(constants.IPC);
  assert.equal(fresh.setPeerPid(process.pid), EINVAL); // not an end yet
  assert.equal(ipc.open(fa), 0);
  assert.equal(plain.open(fb), 0);
  assert.equal(ipc.setPeerPid(process.pid), 0);
  assert.equal(ipc.setPeerPid(0), EINVAL);
  assert.equal(plain.setPeerPid(process.pid), EINVAL);
  const server = new Pipe(constants.IPC);
  assert.equal(server.bind(pipeName('peerpid')), 0);
  assert.equal(server.setPeerPid(process.pid), EINVAL); // bound: a server, not an end
  ipc.close();
  assert.equal(ipc.setPeerPid(process.pid), EBADF);
  plain.close();
  fresh.close();
  server.close();
});
