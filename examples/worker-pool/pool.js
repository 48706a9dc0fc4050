'use strict';
// Worker pool behind one listening Unix domain socket.
//
// The parent listens with a pipewrap Server and sends that server to every
// worker over pipewrap's fork() channel. Once all workers listen on their
// copies the parent closes its own, so only workers accept: the kernel
// spreads the connections across them. Messages go both ways: 'serve' and
// 'shutdown' down, 'listening' and 'served' reports up. Then the parent
// acts as the client.
//
// The name is abstract (Linux): closing the parent's server unlinks nothing,
// so the workers' copies stay reachable under the same name.

const path = require('path');
const crypto = require('crypto');
const { fork } = require('../../lib/ipc');
const { Server, Socket } = require('../../lib/net');

const WORKERS = Number(process.argv[2]) || 3;
const REQUESTS = Number(process.argv[3]) || 30;
const name = `\0pipewrap-pool-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;

const workers = [];
const reported = new Map(); // worker id -> connections it reported over IPC
let listening = 0;

const server = new Server();
server.listen(name, () => {
  for (let id = 0; id < WORKERS; id++) startWorker(id);
});

function startWorker(id) {
  const worker = fork(path.join(__dirname, 'worker.js'), [String(id)]);
  workers.push(worker);
  worker.on('message', (msg) => {
    if (msg.type === 'listening') {
      if (++listening === WORKERS) server.close(runClients);
    } else if (msg.type === 'served') {
      reported.set(id, (reported.get(id) || 0) + 1);
    }
  });
  worker.on('error', (err) => console.error(`worker ${id}:`, err.message));
  worker.on('exit', (code, signal) => {
    if (code !== 0) console.error(`worker ${id} exited with ${code ?? signal}`);
  });
  // The worker gets the server as the second argument of its 'message'.
  worker.send({ type: 'serve' }, server);
}

function request(n) {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let reply = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => { reply += d; });
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.connect(name, () => socket.end(`job ${n}`));
  });
}

async function runClients() {
  const replies = await Promise.all(Array.from({ length: REQUESTS }, (_, n) => request(n)));
  const answered = {};
  for (const r of replies) {
    const id = /^worker (\d+)/.exec(r)[1];
    answered[id] = (answered[id] || 0) + 1;
  }
  console.log(`${REQUESTS} requests answered by ${Object.keys(answered).length} of ${WORKERS} workers`);
  for (const [id, n] of Object.entries(answered)) console.log(`  worker ${id}: ${n}`);
  shutdown();
}

function shutdown() {
  let left = workers.length;
  for (const worker of workers) {
    worker.on('close', () => {
      if (--left > 0) return;
      const total = [...reported.values()].reduce((a, b) => a + b, 0);
      console.log(`workers reported ${total} connections over IPC`);
      process.exitCode = total === REQUESTS ? 0 : 1;
    });
    worker.send({ type: 'shutdown' });
  }
}
