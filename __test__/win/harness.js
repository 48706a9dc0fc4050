'use strict';
// Harness for the Windows suite (__test__/win/*.test.js, run by
// scripts/win/test.js under Wine's node.exe with node:test). Not a test file.
//
// Every scenario is a function of an implementation that returns a trace
// (plain data: events in order, error codes, byte counts). `scenario()` runs
// it against Node's own net / child_process / process.binding (the oracle),
// checks the oracle's trace against what the test expects (so a wrong oracle
// run fails too), then runs it against the implementation under test and
// requires the same trace.
//
// PIPEWRAP_WIN_IMPL selects the implementation under test:
//   pipewrap (default)  require('pipewrap')
//   node                Node's own modules again: proves each scenario passes
//                       and is deterministic on Node under Wine, before the
//                       Windows backend exists. pipewrapOnly() tests skip.
const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');

const IMPL = process.env.PIPEWRAP_WIN_IMPL || 'pipewrap';
if (IMPL !== 'node' && IMPL !== 'pipewrap') throw new Error(`PIPEWRAP_WIN_IMPL=${IMPL}: use node or pipewrap`);
const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures');
// envu.exe (scripts/win/envu.c, built by setup.sh): `env -u` for Windows.
const ENVU = process.env.PIPEWRAP_WIN_ENVU;

function nodeBinding() {
  const { Pipe, PipeConnectWrap, constants } = process.binding('pipe_wrap');
  const sw = process.binding('stream_wrap');
  return { Pipe, PipeConnectWrap, WriteWrap: sw.WriteWrap, ShutdownWrap: sw.ShutdownWrap, streamBaseState: sw.streamBaseState, constants, kReadBytesOrError: 0, kArrayBufferOffset: 1 };
}

function nodeImpl() {
  const net = require('node:net');
  return {
    name: 'node',
    net,
    createServer: net.createServer,
    connect: net.connect,
    Server: net.Server,
    Socket: net.Socket,
    fork: childProcess.fork,
    binding: nodeBinding(),
  };
}

let loaded;
function pipewrapImpl() {
  if (!loaded) {
    try {
      // By package name (self-reference through package.json "exports"),
      // as a user would.
      const pw = require('pipewrap');
      loaded = {
        name: 'pipewrap',
        pw,
        net: pw,
        createServer: pw.createServer,
        connect: pw.connect,
        Server: pw.Server,
        Socket: pw.Socket,
        fork: pw.fork,
        openChannel: pw.openChannel,
        binding: pw.binding,
      };
    } catch (err) {
      loaded = { error: err };
    }
  }
  if (loaded.error) {
    const e = new Error(`require('pipewrap') failed on Windows: ${loaded.error.code || ''} ${loaded.error.message.split('\n')[0]}`);
    e.cause = loaded.error;
    throw e;
  }
  return loaded;
}

const oracle = () => nodeImpl();
const subject = () => (IMPL === 'node' ? nodeImpl() : pipewrapImpl());

// A fresh pipe name per call; `style` '?' gives the \\?\pipe\ spelling.
let seq = 0;
function pipeName(tag = 'pw', style = '.') {
  return `\\\\${style}\\pipe\\${tag}-${process.pid}-${++seq}-${crypto.randomBytes(3).toString('hex')}`;
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// scenario(title, fn(impl, h) -> trace, { fixOracle(trace, t), expect(trace), timeout })
// fixOracle: where Node's own behaviour under Wine is a Wine quirk (not what
// Node does on Windows), rewrites the oracle's trace to the documented
// behaviour and says so (t.diagnostic); the subject must match the result.
// quirk: the same rewrite applied to both traces, for a scenario where the
// part that shows the quirk is Node's own on both sides (e.g. a plain Node
// parent in front of either child).
// `todo`: a known difference from Node, said in the output (node:test's
// TODO marker) rather than hidden; the comparison still runs and prints.
function scenario(title, fn, { fixOracle, quirk, expect, timeout = 60000, todo } = {}) {
  test(title, { timeout, todo }, async (t) => {
    let o = await withTimeout(Promise.resolve(fn(oracle(), { t, side: 'oracle' })), timeout / 2, `${title} (Node's own)`);
    if (fixOracle) o = fixOracle(o, t);
    if (quirk) o = quirk(o, t);
    if (process.env.PIPEWRAP_WIN_TRACE) t.diagnostic(`oracle trace: ${JSON.stringify(o)}`);
    if (expect) expect(o);
    const s = subject();
    let got = await withTimeout(Promise.resolve(fn(s, { t, side: 'subject' })), timeout / 2, `${title} (${s.name})`);
    // In oracle-only mode the subject is Node under the same Wine: same quirk.
    if (fixOracle && IMPL === 'node') got = fixOracle(got, t);
    if (quirk) got = quirk(got, t);
    assert.deepStrictEqual(got, o, `${s.name} differs from Node's own under the same Wine`);
  });
}

// A test of pipewrap alone (what Node has no twin for).
function pipewrapOnly(title, fn, { timeout = 60000 } = {}) {
  test(title, { timeout, skip: IMPL === 'node' ? 'pipewrap-only (PIPEWRAP_WIN_IMPL=node)' : false }, async (t) => {
    await fn(pipewrapImpl(), { t });
  });
}

function once(emitter, event) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => { emitter.off('error', onError); resolve(args); };
    const onError = (err) => { emitter.off(event, onEvent); reject(err); };
    emitter.once(event, onEvent);
    if (event !== 'error') emitter.once('error', onError);
  });
}

function listen(server, ...args) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...args, () => { server.off('error', reject); resolve(server); });
  });
}

// The Linux suite's stream helpers (node builtins only; no ava).
const { closeServer, collect, sha256 } = require('../net-helpers');
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

// An error as a trace entry: what users branch on.
const errInfo = (err) => (err ? { code: err.code, errno: err.errno, syscall: err.syscall } : null);

// Run a Node script (under this same node.exe) and collect its output.
// Inside Wine a child's stdout piped to its Windows parent is fine.
function runNode(args, { timeout = 60000, env, stdio, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = childProcess.spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: stdio || ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d) => { stderr += d; });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill(); }, timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr, timedOut }); });
    if (child.stdin) child.stdin.end(input);
  });
}

module.exports = {
  IMPL, ROOT, FIXTURES, ENVU, assert, test, oracle, subject, nodeImpl, pipewrapImpl, scenario, pipewrapOnly,
  pipeName, once, listen, closeServer, collect, sha256, delay, errInfo, runNode, withTimeout, fs, path,
};
