'use strict';
// Shared helpers for the net-*.test.js files (not a test file itself).

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const NET = path.join(ROOT, 'lib', 'net.js');

// A fresh temp dir per test, removed afterwards. Kept short: sun_path is
// 108 bytes.
function tmpdir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function abstractName() {
  return `\0pw-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
}

// Callback counting instead of sleeping: calls.must(fn, n) wraps fn and the
// test fails at its end unless the wrapper ran exactly n times.
function callCounter(t) {
  const checks = [];
  t.teardown(() => {
    for (const { name, expected, wrapper } of checks) {
      assert.equal(wrapper.calls, expected, `${name} expected ${expected} call(s), got ${wrapper.calls}`);
    }
  });
  return {
    must(fn = () => {}, expected = 1) {
      const wrapper = function (...args) {
        wrapper.calls++;
        return fn.apply(this, args);
      };
      wrapper.calls = 0;
      checks.push({ name: fn.name || '<anonymous>', expected, wrapper });
      return wrapper;
    },
    never(name = 'callback') {
      return this.must(function never() {
        throw new Error(`${name} must not be called`);
      }, 0);
    },
  };
}

// Resolve with the first emission of `event`, reject on 'error' first.
function once(emitter, event) {
  return new Promise((resolve, reject) => {
    const onEvent = (...args) => {
      emitter.off('error', onError);
      resolve(args);
    };
    const onError = (err) => {
      emitter.off(event, onEvent);
      reject(err);
    };
    emitter.once(event, onEvent);
    if (event !== 'error') emitter.once('error', onError);
  });
}

// The first 'error' a emitter emits (fails if it emits `success` first).
function expectError(emitter, success) {
  return new Promise((resolve, reject) => {
    emitter.once('error', resolve);
    if (success) emitter.once(success, () => reject(new Error(`unexpected '${success}'`)));
  });
}

function listen(server, ...args) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...args, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function closeServer(server) {
  return new Promise((resolve) => server.close(() => resolve()));
}

// Read a stream to the end as a Buffer.
function collect(readable) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    readable.on('data', (c) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    readable.once('end', () => resolve(Buffer.concat(chunks)));
    readable.once('error', reject);
  });
}

// Run a node script in a child process (the same binding selection is
// inherited through the environment). Never hangs: killed after `timeout`.
function runNode(args, { timeout = 15000, cwd, env, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

// Run inline code (`require(NET)` is available as `net`).
function runScript(code, opts) {
  const prelude = `const net = require(${JSON.stringify(NET)});\n`;
  return runNode(['-e', prelude + code], opts);
}

// Spawn a long-lived child that prints one line when ready.
// `stdio3`: an fd to hand down as the child's fd 3.
function spawnReady(args, { readyLine, env, timeout = 10000, stdio3 } = {}) {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit', ...(stdio3 === undefined ? [] : [stdio3])],
  });
  const ready = new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error('child not ready in time')), timeout);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      buf += d;
      if (buf.includes(readyLine)) {
        clearTimeout(timer);
        resolve(buf);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (${code ?? signal})`));
    });
  });
  return { child, ready };
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

// Whether python3 is installed (for tests against Python's socket module).
const hasPython = (() => {
  try {
    require('child_process').execFileSync('python3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

module.exports = {
  hasPython,
  ROOT,
  NET,
  tmpdir,
  abstractName,
  callCounter,
  once,
  expectError,
  listen,
  closeServer,
  collect,
  runNode,
  runScript,
  spawnReady,
  sha256,
};
