'use strict';
// fork() returns Node's own ChildProcess with the pipewrap channel installed
// on it (issue 20, item 8): a strict-mode script doing what process-pool
// libraries do with their workers (instanceof, spawnargs, ref/unref/kill,
// assigning killed/exitCode in 'exit') observes the same with Node's
// child_process.fork and with pipewrap's fork.
const test = require('ava');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { fixture } = require('./fixtures/ipc-helpers');

const SCRIPT = fixture('ipc-childprocess-pool.js');

// Runs the pool script with `impl`'s fork in a process of its own; resolves
// with its observations (the last stdout line) once it exited cleanly.
function observe(impl) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [SCRIPT, impl], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    p.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      if (code !== 0 || signal !== null) {
        reject(new Error(`${impl}: exit ${code} ${signal}\n${stdout}${stderr}`));
        return;
      }
      resolve({ result: JSON.parse(stdout.trim().split('\n').pop()), stderr });
    });
  });
}

test('fork() returns a ChildProcess a strict-mode pool can use as it uses Node\'s', async (t) => {
  t.timeout(60000);
  const [node, ours] = await Promise.all([observe('node'), observe('pipewrap')]);
  // Node's own answers, so the comparison below cannot pass by both being wrong.
  assert.equal(node.result.instanceOf, true);
  assert.deepEqual(node.result.nodeMethods, ['kill', 'ref', 'unref', 'spawn']);
  assert.equal(node.result.shapes.killed, 'value writable enumerable');
  assert.deepEqual(node.result.close, [null, 'SIGTERM', null, 'SIGTERM', true, null]);
  assert.deepEqual(ours.result, node.result);
  assert.doesNotMatch(ours.stderr, /Warning|Error/);
});
