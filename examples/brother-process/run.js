'use strict';
// Runs the brother server and client as two separate processes talking over
// a Unix domain socket, prints the exchange, stops the server.
// Exits 0 on success, 1 on any failure or after a timeout.

const { spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const TIMEOUT_MS = 10000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-brother-'));
// A socket file in a fresh temp dir, or on Windows a named pipe.
const socketPath = process.platform === 'win32'
  ? `\\\\.\\pipe\\pw-brother-${process.pid}`
  : path.join(dir, 'brother.sock');
const children = [];

function cleanup() {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
}

function fail(message) {
  console.error(`run: ${message}`);
  cleanup();
  process.exit(1);
}

const timer = setTimeout(() => fail(`timed out after ${TIMEOUT_MS} ms`), TIMEOUT_MS);

// Start a child; resolves when it exits, collecting its stdout lines.
function start(script, onLine, extra = []) {
  const child = spawn(process.execPath, [path.join(__dirname, script), socketPath, ...extra], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (data) => {
    const parts = (partial + data).split('\n');
    partial = parts.pop();
    for (const line of parts) {
      lines.push(line);
      if (onLine) onLine(line);
    }
  });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, lines })));
  return { child, exited };
}

async function main() {
  let markReady;
  const ready = new Promise((resolve) => { markReady = resolve; });
  const server = start('server.js', (line) => { if (line.startsWith('ready ')) markReady(); }, ['--stdin-control']);
  let isReady = false;
  server.exited.then(() => { if (!isReady) fail('server exited before it was ready'); });
  await ready;
  isReady = true;

  const client = await start('client.js').exited;
  if (client.code !== 0) fail(`client exited with ${client.code ?? client.signal}`);

  server.child.stdin.end(); // the server stops when its stdin ends
  const srv = await server.exited;
  if (srv.code !== 0) fail(`server exited with ${srv.code ?? srv.signal}`);
  if (fs.existsSync(socketPath)) fail('server left its socket file behind');

  // Print in causal order (the two processes' output arrives on separate pipes).
  const pick = (lines, prefix) => lines.find((l) => l.startsWith(prefix));
  const exchange = [
    pick(client.lines, 'client -> '),
    pick(srv.lines, 'server <- '),
    pick(srv.lines, 'server -> '),
    pick(client.lines, 'client <- '),
  ];
  if (exchange.some((l) => l === undefined)) fail(`incomplete exchange:\n${[...client.lines, ...srv.lines].join('\n')}`);
  for (const line of exchange) console.log(line);

  clearTimeout(timer);
  cleanup();
}

main().catch((err) => fail(err.stack || String(err)));
