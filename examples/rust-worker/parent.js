'use strict';
// A Node parent handing jobs to a Rust worker (src/main.rs) over Node's own
// IPC channel: plain child_process.spawn with an 'ipc' stdio entry, then
// worker.send(job) / worker.on('message'). No protocol of our own.
//
//   npm run example:rust-worker   (cargo build --release, then this file)
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const bin = process.env.RUST_WORKER_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(root, 'target'), 'release', 'rust-worker');
if (!fs.existsSync(bin)) {
  console.error(`${bin} is missing: cargo build --release -p pipewrap-rust-worker`);
  process.exit(1);
}

// 'advanced' carries Buffers as Buffers; 'json' works too (Buffers then go
// as { type: 'Buffer', data: [...] }, which the worker also reads).
const serialization = process.argv[2] || 'advanced';
const worker = spawn(bin, [], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], serialization });

// One promise per job, settled by the reply with the same id.
const pending = new Map();
let nextId = 1;
function run(job, handle) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.send({ ...job, id }, handle);
  });
}
worker.on('message', (reply) => {
  if (reply.error) return console.error('worker:', reply.error);
  const p = pending.get(reply.id);
  pending.delete(reply.id);
  p.resolve(reply.result);
});
worker.on('exit', (code) => {
  for (const p of pending.values()) p.reject(new Error(`worker exited (${code})`));
});

(async () => {
  const started = process.hrtime.bigint();
  const [primes, checksum, echo] = await Promise.all([
    run({ kind: 'primes', n: 2_000_000 }),
    run({ kind: 'checksum', data: Buffer.from('hello from node') }),
    run({ kind: 'echo', value: { nested: ['values', 1, true, null] } }),
  ]);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`primes below 2,000,000: ${primes}`);
  console.log(`checksum: ${checksum}`);
  console.log(`echo: ${JSON.stringify(echo)}`);
  console.log(`(three jobs in ${ms.toFixed(1)} ms, ${serialization} serialization)`);

  // Handles travel too: the server end of a connection goes to the worker,
  // which writes on it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rust-worker-'));
  const server = net.createServer((conn) => run({ kind: 'greet' }, conn));
  await new Promise((resolve) => server.listen(path.join(dir, 'w.sock'), resolve));
  const client = net.connect(path.join(dir, 'w.sock'));
  const greeting = await new Promise((resolve) => client.once('data', resolve));
  console.log(`the worker said on a socket it was handed: ${String(greeting).trim()}`);
  client.end();
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });

  // The worker's recv() returns None: it finishes and exits.
  worker.disconnect();
  worker.on('exit', (code) => console.log(`worker exited with code ${code}`));
})().catch((err) => {
  console.error(err);
  worker.kill();
  process.exitCode = 1;
});
