'use strict';
// ESM: `import pipewrap from 'pipewrap'` and `import { createServer, ... }
// from 'pipewrap'` both work in a real project (node_modules/pipewrap is a
// symlink to this package), as do require() and deep requires (issue 12,
// item 6).
const test = require('ava');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');

function project(t, files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-esm-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'pipewrap'), 'dir');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

function run(dir, file) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, err });
    });
  });
}

const ESM = `
import pipewrap from 'pipewrap';
import * as ns from 'pipewrap';
import { createServer, connect, fork, openChannel, socketpair, Socket, Server, binding, constants } from 'pipewrap';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';

const cjs = createRequire(import.meta.url)('pipewrap');
const missing = Object.keys(cjs).filter((k) => !(k in ns) || ns[k] !== cjs[k]);
if (pipewrap !== cjs) throw new Error('default export is not the CommonJS module');
if (missing.length) throw new Error('not exported by name: ' + missing.join(', '));
if (binding !== cjs.binding || constants.IPC !== 2) throw new Error('binding');
for (const f of [fork, openChannel, socketpair]) if (typeof f !== 'function') throw new Error('fn');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-esm-run-'));
const p = path.join(dir, 's.sock');
const server = createServer((s) => s.end('hi from esm'));
if (!(server instanceof Server)) throw new Error('Server');
server.listen(p, () => {
  const c = connect(p);
  if (!(c instanceof Socket)) throw new Error('Socket');
  let got = '';
  c.setEncoding('utf8').on('data', (d) => { got += d; });
  c.on('close', () => server.close(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    console.log(JSON.stringify({ got, names: Object.keys(ns).length }));
  }));
});
`;

const CJS = `
const pw = require('pipewrap');
const net = require('pipewrap/lib/net');
const netJs = require('pipewrap/lib/net.js');
const pkg = require('pipewrap/package.json');
if (net !== netJs || pw.Socket !== net.Socket) throw new Error('deep require');
console.log(JSON.stringify({ name: pkg.name, createServer: typeof pw.createServer }));
`;

test('import pipewrap and import { named } from pipewrap in a project; require() and deep requires still resolve', async (t) => {
  t.timeout(30000);
  const dir = project(t, { 'main.mjs': ESM, 'main.cjs': CJS });
  const esm = await run(dir, 'main.mjs');
  assert.equal(esm.code, 0, esm.err);
  const result = JSON.parse(esm.out);
  assert.equal(result.got, 'hi from esm');
  assert.ok(result.names > Object.keys(require('..')).length, 'every member plus default');

  const cjs = await run(dir, 'main.cjs');
  assert.equal(cjs.code, 0, cjs.err);
  assert.deepEqual(JSON.parse(cjs.out), { name: 'pipewrap', createServer: 'function' });
});
