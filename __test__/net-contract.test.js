'use strict';
// Node's net and pipewrap's, side by side: each scenario of
// fixtures/net-contract-scenarios.js runs in a fresh process on each
// implementation, and the two traces (events, callback arguments, state
// seen at each step, bytes the peer got) must be the same line for line.
// These pin what the write fast path in lib/net.js must keep of
// Writable's behaviour.

const test = require('ava');
const { execFile } = require('node:child_process');
const path = require('node:path');

const RUN = path.join(__dirname, 'fixtures', 'net-contract-run.js');
const scenarios = Object.keys(require('./fixtures/net-contract-scenarios.js'));

function trace(name, impl) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [RUN, name, impl], { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${name} on ${impl}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

for (const name of scenarios) {
  test(`${name}: the same trace as Node's net`, async (t) => {
    const node = await trace(name, 'node');
    const ours = await trace(name, 'pipewrap');
    t.true(node.trim().endsWith('"exit" 0'), `Node's run ends cleanly:\n${node}`);
    t.is(ours, node);
  });
}
