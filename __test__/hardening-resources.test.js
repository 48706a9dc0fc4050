'use strict';
// Resource limits and data integrity under stress: fd exhaustion (EMFILE),
// connection churn, and hash-checked bidirectional transfers with random
// chunking and random pause/resume. Heavy scenarios run in child processes
// with a timeout.
const test = require('ava');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const pw = require('..');

const root = path.join(__dirname, '..');
const tmp = (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'pwr-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
};

function runChild(source, { timeout = 60000, ulimit, nodeArgs = [] } = {}) {
  const cmd = ulimit ? 'sh' : process.execPath;
  const script = path.join(os.tmpdir(), `pwr-child-${process.pid}-${Math.random().toString(36).slice(2)}.js`);
  fs.writeFileSync(script, source);
  const args = ulimit ? ['-c', `ulimit -n ${ulimit} && exec "${process.execPath}" "${script}"`] : [...nodeArgs, script];
  const r = spawnSync(cmd, args, { cwd: root, timeout, encoding: 'utf8', env: { ...process.env, PIPEWRAP_ROOT: root } });
  fs.rmSync(script, { force: true });
  return r;
}

test('EMFILE: a server at its fd limit keeps running, does not spin, and accepts again', () => {
  const r = runChild(`
    const pw = require(process.env.PIPEWRAP_ROOT);
    const fs = require('fs'), os = require('os'), path = require('path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwe-'));
    const p = path.join(dir, 'e.sock');
    const held = [];
    const server = pw.createServer((s) => { held.push(s); s.on('error', () => {}); });
    server.on('error', (e) => { console.log('server error', e.code); });
    server.listen({ path: p, backlog: 512 }, () => {
      // Clients live in this process too, so each connection costs 2 fds:
      // the limit (64) is hit after ~25 connections.
      const clients = [];
      let closedByPeer = 0;
      for (let i = 0; i < 60; i++) {
        const c = pw.connect(p);
        c.on('error', () => {});
        c.on('close', () => { closedByPeer++; });
        clients.push(c);
      }
      setTimeout(() => {
        const cpuBefore = process.cpuUsage();
        setTimeout(() => {
          const cpu = process.cpuUsage(cpuBefore);
          const busyMs = (cpu.user + cpu.system) / 1000;
          console.log('accepted while full', held.length, 'busy ms over 500ms', Math.round(busyMs));
          if (busyMs > 250) { console.log('SPINNING'); process.exit(3); }
          // Free everything, then a new client must be accepted.
          for (const s of held.splice(0)) s.destroy();
          for (const c of clients) c.destroy();
          setTimeout(() => {
            const c = pw.connect(p, () => {});
            server.once('connection', (s) => { console.log('accepted again'); s.destroy(); c.destroy(); server.close(); });
          }, 50);
        }, 500);
      }, 500);
    });
  `, { ulimit: 64 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /accepted again/);
  assert.doesNotMatch(r.stdout, /SPINNING/);
});

test('churn: 30k connect/accept/close cycles leave the fd count flat and RSS flat after warm-up', () => {
  const r = runChild(`
    const pw = require(process.env.PIPEWRAP_ROOT);
    const fs = require('fs'), os = require('os'), path = require('path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwc-'));
    const p = path.join(dir, 'c.sock');
    const fds = () => fs.readdirSync('/proc/self/fd').length;
    const server = pw.createServer((s) => { s.end('x'); s.on('error', () => {}); });
    server.listen(p, () => {
      const fdsStart = fds();
      const total = 30000;
      let done = 0;
      let started = 0;
      let rssHalfway;
      const one = () => {
        if (started === total) return;
        started++;
        const c = pw.connect(p);
        c.on('data', () => {});
        c.on('error', (e) => { console.log('error', e.code); process.exit(2); });
        c.on('close', () => {
          done++;
          if (done === total / 2) { global.gc(); rssHalfway = process.memoryUsage().rss; }
          if (done === total) {
            setImmediate(() => {
              global.gc();
              console.log(JSON.stringify({ fdsStart, fdsEnd: fds(), rssGrowthMB: (process.memoryUsage().rss - rssHalfway) / 2 ** 20 }));
              server.close();
            });
            return;
          }
          one();
        });
      };
      // Four connections in flight at a time.
      for (let i = 0; i < 4; i++) one();
    });
  `, { timeout: 120000, nodeArgs: ['--expose-gc'] });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const stats = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.equal(stats.fdsEnd, stats.fdsStart, `fd count drifted: ${JSON.stringify(stats)}`);
  assert.ok(stats.rssGrowthMB < 12, `RSS grew by ${stats.rssGrowthMB} MB over the second 15k cycles`);
});

test('integrity: 24 MiB each way with random chunks and random pause/resume, hash-checked', async (t) => {
  const p = path.join(tmp(t), 'i.sock');
  const size = 24 * 1024 * 1024;
  const make = () => crypto.randomBytes(size);
  const up = make();
  const down = make();
  const hash = (b) => crypto.createHash('sha256').update(b).digest('hex');
  let seed = 12345;
  const rand = (n) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const sendRandom = (sock, data) => {
    let off = 0;
    const pump = () => {
      while (off < data.length) {
        const n = Math.min(1 + rand(200000), data.length - off);
        const ok = sock.write(data.subarray(off, off + n));
        off += n;
        if (!ok) return sock.once('drain', pump);
      }
      sock.end();
    };
    pump();
  };
  const collect = (sock) =>
    new Promise((resolve, reject) => {
      const parts = [];
      sock.on('data', (d) => {
        parts.push(d);
        if (rand(50) === 0) {
          sock.pause();
          setTimeout(() => sock.resume(), rand(5));
        }
      });
      sock.on('end', () => resolve(Buffer.concat(parts)));
      sock.on('error', reject);
    });
  const server = pw.createServer({ allowHalfOpen: true });
  const serverGot = new Promise((resolve, reject) => {
    server.on('connection', (s) => {
      collect(s).then(resolve, reject);
      sendRandom(s, down);
    });
  });
  await new Promise((resolve) => server.listen(p, resolve));
  const client = pw.connect({ path: p, allowHalfOpen: true });
  const clientGot = collect(client);
  client.on('connect', () => sendRandom(client, up));
  const [atServer, atClient] = await Promise.all([serverGot, clientGot]);
  assert.equal(atServer.length, size);
  assert.equal(atClient.length, size);
  assert.equal(hash(atServer), hash(up));
  assert.equal(hash(atClient), hash(down));
  client.destroy();
  await new Promise((resolve) => server.close(resolve));
});

test('peer SIGKILLed mid-transfer: error/close on our side, the server keeps accepting', async (t) => {
  const p = path.join(tmp(t), 'k.sock');
  const server = pw.createServer();
  let closes = 0;
  server.on('connection', (s) => {
    s.on('error', () => {});
    s.on('close', () => { closes++; });
    s.resume();
  });
  await new Promise((resolve) => server.listen(p, resolve));
  const { spawn } = require('node:child_process');
  const child = spawn(process.execPath, ['-e', `
    const pw = require(${JSON.stringify(root)});
    const c = pw.connect(${JSON.stringify(p)}, () => {
      const chunk = Buffer.alloc(65536, 1);
      const pump = () => { while (c.write(chunk)); c.once('drain', pump); };
      pump();
      console.log('streaming');
    });
  `], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve) => child.stdout.once('data', resolve));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.on('exit', resolve));
  await new Promise((resolve) => { const poll = () => (closes === 1 ? resolve() : setTimeout(poll, 10)); poll(); });
  // Still serving.
  const again = await new Promise((resolve, reject) => {
    const c = pw.connect(p, () => { c.destroy(); resolve(true); });
    c.on('error', reject);
  });
  assert.equal(again, true);
  await new Promise((resolve) => server.close(resolve));
});
