'use strict';
// Teardown paths that crash native addons: worker threads ending or being
// terminated mid-stream, and process.exit() with open handles and queued
// writes. Each scenario runs in a child process with a hard timeout and must
// end with the exit code it asked for (no SIGSEGV/SIGABRT).
const test = require('ava');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');

function runChild(source, timeout = 30000) {
  const r = spawnSync(process.execPath, ['-e', source], {
    cwd: root,
    timeout,
    encoding: 'utf8',
    env: { ...process.env, PIPEWRAP_ROOT: root },
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const prelude = `
const pw = require(process.env.PIPEWRAP_ROOT);
const fs = require('fs'), os = require('os'), path = require('path');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwh-'));
`;

test('process.exit() with a server, live connections and queued writes exits cleanly', () => {
  const r = runChild(`${prelude}
    const server = pw.createServer((s) => { s.pause(); });
    server.listen(path.join(dir, 'x.sock'), () => {
      const c = pw.connect(path.join(dir, 'x.sock'), () => {
        // The server never reads: these writes queue up in pipewrap.
        const big = Buffer.alloc(1 << 20);
        for (let i = 0; i < 16; i++) c.write(big);
        setImmediate(() => { console.log('queued', c.writableLength > 0); process.exit(7); });
      });
    });
  `);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 7, r.stderr);
  assert.match(r.stdout, /queued true/);
});

test('natural exit: an unref()ed server and a connected idle handle do not hold the loop', () => {
  const r = runChild(`${prelude}
    const b = pw.binding;
    // The accepted end is destroyed at once: a reading socket would (rightly)
    // keep the process alive, in Node too.
    const server = pw.createServer((s) => s.destroy());
    server.listen(path.join(dir, 'u.sock'), () => {
      server.unref();
      // Like Node's Pipe: connected, not reading, nothing queued = inactive.
      const raw = new b.Pipe(b.constants.SOCKET);
      const req = new b.PipeConnectWrap();
      req.oncomplete = (status) => console.log('connected', status);
      raw.connect(req, path.join(dir, 'u.sock'));
    });
  `);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /connected 0/);
});

test('the addon loads in many workers at once; servers inside them are cleaned up when they end', () => {
  const r = runChild(`${prelude}
    const { Worker } = require('worker_threads');
    const N = 8;
    let ended = 0;
    const workerSource = \`
      const pw = require(process.env.PIPEWRAP_ROOT);
      const { workerData, parentPort } = require('worker_threads');
      const server = pw.createServer((s) => s.pipe(s));
      server.listen(workerData.path, () => {
        const c = pw.connect(workerData.path, () => c.end('ping'));
        let got = '';
        c.on('data', (d) => { got += d; });
        c.on('end', () => { parentPort.postMessage(got); });
        // Ending with the server still listening: the env cleanup closes it.
      });
    \`;
    for (let i = 0; i < N; i++) {
      const w = new Worker(workerSource, { eval: true, workerData: { path: path.join(dir, 'w' + i + '.sock') } });
      w.on('message', (m) => { if (m !== 'ping') throw new Error('bad echo ' + m); w.terminate(); });
      w.on('error', (e) => { console.error('worker error', e); process.exit(3); });
      w.on('exit', () => {
        if (++ended === N) {
          // Worker teardown closed (and unlinked) the listening sockets.
          const left = fs.readdirSync(dir);
          console.log('left', left.length);
          process.exit(0);
        }
      });
    }
  `, 60000);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /left 0/);
});

test('worker.terminate() in the middle of a transfer; the host keeps serving', () => {
  const r = runChild(`${prelude}
    const { Worker } = require('worker_threads');
    const hostPath = path.join(dir, 'host.sock');
    let received = 0;
    const host = pw.createServer((s) => { s.on('data', (d) => { received += d.length; }); s.on('error', () => {}); });
    host.listen(hostPath, () => {
      const workerSource = \`
        const pw = require(process.env.PIPEWRAP_ROOT);
        const { workerData, parentPort } = require('worker_threads');
        const c = pw.connect(workerData.hostPath, () => {
          const chunk = Buffer.alloc(64 * 1024, 1);
          const pump = () => { while (c.write(chunk)); c.once('drain', pump); };
          pump();
          parentPort.postMessage('streaming');
        });
      \`;
      let rounds = 0;
      const spawnOne = () => {
        const w = new Worker(workerSource, { eval: true, workerData: { hostPath } });
        w.on('message', () => setTimeout(() => w.terminate(), 20));
        w.on('exit', () => {
          if (++rounds < 5) return spawnOne();
          // The host still accepts and echoes after all of that.
          const c = pw.connect(hostPath, () => { console.log('host alive', received > 0); process.exit(0); });
          c.on('error', (e) => { console.error(e); process.exit(4); });
        });
      };
      spawnOne();
    });
  `, 60000);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /host alive true/);
});

test('process.exit() inside a worker with open handles', () => {
  const r = runChild(`${prelude}
    const { Worker } = require('worker_threads');
    const src = \`
      const pw = require(process.env.PIPEWRAP_ROOT);
      const { workerData } = require('worker_threads');
      const server = pw.createServer(() => {});
      server.listen(workerData.p, () => {
        const c = pw.connect(workerData.p, () => { c.write('x'); process.exit(5); });
      });
    \`;
    const w = new Worker(src, { eval: true, workerData: { p: path.join(dir, 'e.sock') } });
    w.on('exit', (code) => { console.log('worker exit', code); process.exit(0); });
  `);
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /worker exit 5/);
});
