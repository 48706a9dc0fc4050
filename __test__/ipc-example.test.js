'use strict';
// examples/worker-pool runs to completion and every request is answered by
// a worker (and reported back over IPC).
const test = require('ava');
const assert = require('node:assert');
const path = require('path');
const { spawn } = require('child_process');
const { guard } = require('./fixtures/ipc-helpers');

test('examples/worker-pool', async (t) => {
  t.timeout(60000);
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'worker-pool', 'pool.js'), '3', '24'],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  const { code, timedOut } = await guard(child, 30000);
  assert.strictEqual(timedOut, false);
  assert.strictEqual(err, '');
  assert.strictEqual(code, 0, out);
  assert.match(out, /^24 requests answered by [1-3] of 3 workers$/m);
  const perWorker = [...out.matchAll(/^ {2}worker (\d): (\d+)$/gm)].map((m) => Number(m[2]));
  assert.strictEqual(perWorker.reduce((a, b) => a + b, 0), 24);
  assert.match(out, /^workers reported 24 connections over IPC$/m);
});
