// A realistic pipewrap program, type-checked (never run) by
// __test__/types.test.js against lib/index.d.ts. The `@ts-expect-error`
// lines prove that misuse is rejected.

import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as dgram from 'dgram';
import pipewrap, {
  createServer,
  connect,
  createConnection,
  socketpair,
  fork,
  openChannel,
  Server,
  Socket,
  IPCChannel,
  ChildProcessIPC,
  binding,
  Pipe,
  PipeConnectWrap,
  WriteWrap,
  ShutdownWrap,
  streamBaseState,
  kReadBytesOrError,
  kArrayBufferOffset,
  kLastWriteWasAsync,
  constants,
} from 'pipewrap';
import type {
  PeerCredentials,
  PipewrapError,
  ListenOptions,
  ForkOptions,
  ReceivedHandle,
  ErrorCode,
  SocketReadyState,
} from 'pipewrap';
import pw = require('pipewrap');

const sockPath = path.join(os.tmpdir(), `pipewrap-types-${process.pid}.sock`);

// ---------------------------------------------------------------- server

const server: Server = createServer({ fdPassing: true, pauseOnConnect: false }, (socket) => {
  const s: Socket = socket;
  const cred: PeerCredentials = s.getPeerCredentials();
  console.log(`peer pid ${cred.pid} uid ${cred.uid} gid ${cred.gid}`);
  s.on('fds', (fds) => {
    for (const fd of fds) fs.closeSync(fd);
  });
  s.on('data', (chunk) => {
    const b: Buffer = chunk;
    s.write(b, (err) => {
      if (err) console.error(err.message);
    });
  });
  s.on('close', (hadError) => {
    const h: boolean = hadError;
    void h;
  });
  s.setTimeout(5000, () => s.destroySoon());
});

server.maxConnections = 16;
server.on('drop', () => console.warn('dropped a connection'));
server.on('error', (err) => {
  const code: ErrorCode | string = err.code;
  if (err.code === 'EADDRINUSE' || err.code === 'ERR_SERVER_ALREADY_LISTEN') console.error(code, err.syscall);
});
server.once('listening', () => {
  const where: string | null = server.address();
  console.log('listening on', where, server.listening);
});

const keepAliveSeconds: number = createServer({ keepAlive: true, keepAliveInitialDelay: 1000 }).keepAliveInitialDelay;
void keepAliveSeconds;
const userBuffer = Buffer.alloc(4096);
connect({ path: sockPath, onread: { buffer: userBuffer, callback: (n, buf) => buf === userBuffer && n > 0 } }).destroy();
const listenOptions: ListenOptions = { path: sockPath, backlog: 64, mode: 0o660, reclaimStale: true, signal: new AbortController().signal };
server.listen(listenOptions, () => {
  // --------------------------------------------------------------- client
  const client = connect(sockPath, () => {
    client.on('connectionAttemptFailed', (path, port, family, err) => console.error(path.length, port, family, err.code));
    console.log(client.connecting, client.pending, client.readyState, client.fd);
    const state: SocketReadyState = client.readyState;
    void state;
    const fd = fs.openSync(__filename, 'r');
    const ok: boolean = client.sendFds([fd], 'here is a file', (err) => {
      fs.closeSync(fd);
      if (err) client.destroy(err);
    });
    void ok;
    client.sendFds([fd, fd], Buffer.from('two'));
    client.sendFds([fd], () => {});
    client.end('bye', 'utf8', () => {});
  });
  client.setEncoding('utf8').setNoDelay(true).setKeepAlive(true, 1000).unref().ref();
  client.on('data', (d) => console.log(String(d)));
  client.on('error', (err: PipewrapError) => console.error(err.code, err.address));
  client.on('close', () => {
    console.log(client.bytesRead, client.bytesWritten, client.bufferSize, client.address());
    server.getConnections((err, count) => {
      if (err) throw err;
      console.log(count, 'connections');
      server.close((closeErr) => closeErr && console.error(closeErr.code));
    });
  });

  // Options form, with socket options and a timeout.
  const c2 = createConnection({ path: sockPath, allowHalfOpen: true, fdPassing: true, timeout: 1000 });
  c2.on('connect', () => c2.end());
  c2.on('timeout', () => c2.destroy());
  c2.on('ready', () => {});

  // A Socket made by hand, connected later.
  const c3 = new Socket({ allowHalfOpen: false, fdPassing: true });
  c3.connect({ path: sockPath, fdPassing: true }).on('connect', () => c3.destroy());
  c3.on('unknown-event', (...args: any[]) => console.log(args)); // untyped events still allowed
});

// Other listen forms.
new Server().listen('\0pipewrap-abstract', 128, () => {});
new Server().listen({ path: sockPath + '2', readableAll: true, writableAll: true });
new Server().listen({ fd: 3 });
new Server().listen({ path: sockPath + '4', mode: '660', readableAll: false });
new Server().listen({ handle: new Pipe(constants.SERVER) });
new Server().listen(new net.Server());
new Server({ allowHalfOpen: true, highWaterMark: 1 << 16 }).listen(server, 16).unref();
pw.createServer().listen(sockPath + '3').ref();

// ---------------------------------------------------------------- socketpair

const [left, right] = socketpair({ fdPassing: true, allowHalfOpen: true });
right.on('fds', (fds: number[]) => fds.forEach((fd) => fs.closeSync(fd)));
left.sendFds([0]);
left.pipe(right).pipe(left);
const childStdio: number = left.fd;
void childStdio;
const fromFd = new Socket(right.fd);
fromFd.destroy();

// ---------------------------------------------------------------- fork + IPC

const forkOptions: ForkOptions = {
  serialization: 'advanced',
  maxMessageSize: 1 << 20,
  execArgv: ['--no-warnings'],
  cwd: __dirname,
  env: { ...process.env, WORKER: '1' },
  stdio: ['inherit', 'pipe', 'inherit', 'ipc'],
};
const child: ChildProcessIPC = fork(path.join(__dirname, 'worker.js'), ['--id', '1'], forkOptions);
const child2 = fork(new URL('file:///tmp/worker.js'), { silent: true, execPath: process.execPath });
child2.stdout?.pipe(process.stdout);
child.on('spawn', () => console.log('spawned', child.pid, child.spawnfile, child.spawnargs));
child.on('message', (message, handle) => {
  const h: ReceivedHandle | undefined = handle;
  if (h instanceof Socket) h.end('from parent');
  else if (h instanceof net.Socket) h.end();
  else if (h instanceof dgram.Socket) h.close();
  if (message && message.type === 'ready') {
    const sent: boolean = child.send({ type: 'serve', at: Date.now() }, server, { keepOpen: true }, (err) => {
      if (err) console.error(err.message);
    });
    void sent;
    child.send('ping');
    child.send(42, (err) => err && console.error(err));
    child.send({ map: new Map([[1, 2]]) }, undefined, undefined, () => {});
    child.send({ sock: true }, left);
  }
});
child.on('disconnect', () => console.log('disconnected', child.connected));
child.on('exit', (code, signal) => console.log('exit', code ?? signal, child.exitCode, child.signalCode));
child.on('close', (code: number | null) => console.log('close', code));
child.on('error', (err) => console.error(err.code === 'ERR_IPC_MESSAGE_TOO_LARGE', err.message));
if (child.channel) {
  child.channel.unref();
  child.channel.on('unref', () => console.log('channel no longer holds the loop'));
  console.log(child.channel.fd);
}
child.ref();
child.kill('SIGTERM');
child.disconnect();
child2.unref(); // Node's own: the process, not the channel
const wasKilled: boolean = child2.killed; // Node's own properties
void wasKilled;
child2[Symbol.dispose]();

// openChannel in a child whose Node runtime did not open the channel.
if (process.env.PIPEWRAP_IPC_FD) {
  const channel: IPCChannel = openChannel(Number(process.env.PIPEWRAP_IPC_FD), { serialization: 'json' });
  channel.on('message', (msg: { op: string }, handle) => {
    if (msg.op === 'take' && handle instanceof Server) handle.close();
    channel.send({ op: 'done', pid: process.pid });
  });
  channel.on('error', (err) => {
    if (channel.connected) channel.send({ op: 'error', code: err.code });
  });
  channel.unref().ref();
  const fd: number | undefined = channel.fd;
  void fd;
  channel.once('disconnect', () => {});
  channel.disconnect();
}

// ---------------------------------------------------------------- raw binding

const raw = new binding.Pipe(binding.constants.SOCKET);
const req = new PipeConnectWrap();
req.oncomplete = function (status, handle, _req, readable, writable) {
  if (status !== 0) {
    handle.close();
    return;
  }
  console.log(readable, writable, this.address);
  handle.onread = function (arrayBuffer) {
    const nread = streamBaseState[kReadBytesOrError];
    if (arrayBuffer) console.log(Buffer.from(arrayBuffer, streamBaseState[kArrayBufferOffset], nread));
    else this.close();
  };
  handle.readStart();
  const w = new WriteWrap();
  w.oncomplete = (st) => console.log('write done', st);
  const err = handle.writeUtf8String(w, 'hi');
  if (err === 0 && streamBaseState[kLastWriteWasAsync] === 0) console.log('wrote synchronously');
  const sd = new ShutdownWrap();
  sd.oncomplete = () => handle.close();
  handle.shutdown(sd);
  const cred = handle.getPeerCredentials();
  if (typeof cred !== 'number') console.log(cred.pid);
};
req.address = sockPath;
raw.connect(req, sockPath);
const pairFds: number[] = binding.native.socketpair();
const probe: number = binding.native.probeUnixSocket(sockPath);
void pairFds, probe;
const sameClass: boolean = pipewrap.Pipe === binding.Pipe && Pipe === pw.Pipe;
const ipcType: 2 = constants.IPC;
void sameClass, ipcType;

// ---------------------------------------------------------------- misuse

// @ts-expect-error: TCP ports are not supported
server.listen(8080);
// @ts-expect-error: nor TCP listen options
server.listen({ port: 8080 });
// @ts-expect-error: mode cannot be combined with readableAll
server.listen({ path: sockPath, mode: 0o600, readableAll: true });
// @ts-expect-error: fds must be numbers
client0().sendFds('3');
// @ts-expect-error: fds must be an array
client0().sendFds(3, 'x');
// @ts-expect-error: 'fds' listeners get number[]
client0().on('fds', (fds: string) => fds);
// @ts-expect-error: 'connection' listeners get a Socket
server.on('connection', (s: net.Socket) => s);
// @ts-expect-error: connect needs a path, not a port
connect({ port: 80 });
// @ts-expect-error: address() is a string, not an AddressInfo
const port: number = server.address().port;
// @ts-expect-error: serialization is 'json' | 'advanced'
openChannel(3, { serialization: 'v8' });
// @ts-expect-error: dgram sockets cannot be sent
child.send('x', dgram.createSocket('udp4'));
// @ts-expect-error: send options must be an object
child.send('x', undefined, true);
// @ts-expect-error: getPeerCredentials() has no arguments and returns an object
const pid: string = client0().getPeerCredentials().pid;
// @ts-expect-error: socketpair returns exactly two sockets
const [, , third] = socketpair();
// @ts-expect-error: 'drop' has no arguments (pipes have no addresses)
server.on('drop', (info: { remoteAddress: string }) => info);
// @ts-expect-error: channels come from openChannel(), not a constructor
new IPCChannel();
// @ts-expect-error: a socketpair is always readable and writable
socketpair({ readable: false });
// @ts-expect-error: the Pipe type is 0 | 1 | 2
new Pipe(3);
// @ts-expect-error: constants are read-only
constants.SOCKET = 1;

function client0(): Socket {
  return new Socket();
}
void port, pid, third;
