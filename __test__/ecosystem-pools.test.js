'use strict';
// Process pools users run, with pipewrap's fork() swapped in the way a user
// would (`child_process.fork = pipewrap.fork` before the pool starts): Jest's
// jest-worker (advanced serialization), tinypool's child_process runtime
// (ESM, picks up fork through syncBuiltinESMExports) and workerpool's
// process workers. Each runs in a fresh Node process that must exit on its
// own once the pool is ended: a channel left referenced would hang it.

const test = require('ava');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { tmpdir } = require('./net-helpers');

const ROOT = path.join(__dirname, '..');
const INDEX = JSON.stringify(path.join(ROOT, 'lib', 'index.js'));

// Writes `files` into a fresh temp dir, runs `main` there with Node and
// returns its last stdout line, parsed.
function runPool(t, files, main) {
  const dir = tmpdir(t);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const r = spawnSync(process.execPath, [path.join(dir, main)], {
    cwd: ROOT, // the pool libraries resolve from the project's node_modules
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
    encoding: 'utf8',
    timeout: 60000,
  });
  assert.equal(r.signal, null, `the pool's process hung or crashed:\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const TASKS_CJS = `
exports.add = (a, b) => a + b;
exports.echo = (x) => x;
exports.big = (n) => 'x'.repeat(n);
exports.pid = () => process.pid;
exports.fail = () => { throw Object.assign(new Error('boom'), { code: 'EBOOM' }); };
`;

test('jest-worker runs its process workers over pipewrap.fork (advanced serialization)', (t) => {
  const result = runPool(t, {
    'tasks.js': TASKS_CJS,
    'main.js': `
      const cp = require('node:child_process');
      const pipewrap = require(${INDEX});
      let forks = 0;
      cp.fork = (...args) => { forks++; return pipewrap.fork(...args); };
      const { Worker } = require('jest-worker');
      (async () => {
        const w = new Worker(require.resolve('./tasks.js'), { numWorkers: 3, enableWorkerThreads: false });
        const sums = await Promise.all(Array.from({ length: 2000 }, (_, i) => w.add(i, 1)));
        const echoed = await w.echo({ m: new Map([[1, new Date(5)]]), n: 10n, nested: { a: [1, { b: null }] } });
        const big = await w.big(5e6);
        let failure = null;
        try { await w.fail(); } catch (err) { failure = { message: err.message, code: err.code }; }
        const pids = new Set(await Promise.all(Array.from({ length: 60 }, () => w.pid())));
        const ended = await w.end();
        console.log(JSON.stringify({
          forks,
          sumsOk: sums.every((s, i) => s === i + 1),
          map: echoed.m instanceof Map && echoed.m.get(1) instanceof Date && echoed.m.get(1).getTime(),
          bigint: echoed.n === 10n,
          nested: echoed.nested,
          big: big.length,
          failure,
          workers: pids.size,
          ended,
        }));
      })().catch((err) => { console.error(err); process.exit(1); });
    `,
  }, 'main.js');
  assert.deepEqual(result, {
    forks: 3,
    sumsOk: true,
    map: 5,
    bigint: true,
    nested: { a: [1, { b: null }] },
    big: 5e6,
    failure: { message: 'boom', code: 'EBOOM' },
    workers: 3,
    ended: { forceExited: false },
  });
});

test('tinypool runs its child_process workers over pipewrap.fork (ESM)', (t) => {
  const result = runPool(t, {
    'task.mjs': `
      export default ({ a, b }) => a + b;
      export const big = (n) => 'y'.repeat(n);
    `,
    'main.mjs': `
      import cp from 'node:child_process';
      import { syncBuiltinESMExports } from 'node:module';
      import { createRequire } from 'node:module';
      import pipewrap from ${INDEX};
      let forks = 0;
      cp.fork = (...args) => { forks++; return pipewrap.fork(...args); };
      syncBuiltinESMExports(); // tinypool imports { fork } from node:child_process
      const require = createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))});
      const { Tinypool } = await import(require.resolve('tinypool'));
      const pool = new Tinypool({
        filename: new URL('./task.mjs', import.meta.url).href,
        runtime: 'child_process',
        minThreads: 2,
        maxThreads: 2,
      });
      const sums = await Promise.all(Array.from({ length: 2000 }, (_, i) => pool.run({ a: i, b: 2 })));
      const big = await pool.run(3e6, { name: 'big' });
      await pool.destroy();
      console.log(JSON.stringify({ forks, sumsOk: sums.every((s, i) => s === i + 2), big: big.length }));
    `,
  }, 'main.mjs');
  assert.deepEqual(result, { forks: 2, sumsOk: true, big: 3e6 });
});

test('workerpool runs its process workers over pipewrap.fork', (t) => {
  const result = runPool(t, {
    'tasks.js': `
      const workerpool = require('workerpool');
      workerpool.worker({
        add: (a, b) => a + b,
        big: (n) => 'z'.repeat(n),
        fail: () => { throw new Error('boom'); },
      });
    `,
    'main.js': `
      const cp = require('node:child_process');
      const pipewrap = require(${INDEX});
      let forks = 0;
      cp.fork = (...args) => { forks++; return pipewrap.fork(...args); };
      const workerpool = require('workerpool');
      (async () => {
        const pool = workerpool.pool(require.resolve('./tasks.js'), { workerType: 'process', maxWorkers: 2 });
        const sums = await Promise.all(Array.from({ length: 2000 }, (_, i) => pool.exec('add', [i, 3])));
        const big = await pool.exec('big', [2e6]);
        let failure = null;
        try { await pool.exec('fail', []); } catch (err) { failure = err.message; }
        await pool.terminate();
        console.log(JSON.stringify({ forks, sumsOk: sums.every((s, i) => s === i + 3), big: big.length, failure }));
      })().catch((err) => { console.error(err); process.exit(1); });
    `,
  }, 'main.js');
  assert.deepEqual(result, { forks: 2, sumsOk: true, big: 2e6, failure: 'boom' });
});
