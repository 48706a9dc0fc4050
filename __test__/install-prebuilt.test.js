'use strict';
// The platform packages (npm/<triple>/) agree with the loader's error list,
// package.json's optionalDependencies and napi.targets; then installing
// pipewrap as a user does, from the tarballs a release publishes
// (scripts/pack.js) for the machine the test runs on (Linux x64 in `npm
// test`, Linux arm64 under qemu in `npm run test:arm64`), on a PATH with no
// Rust toolchain:
// - with the platform package: require, an echo and ESM named imports work;
// - without it, when install scripts run: the install fails with one
//   readable paragraph saying what to do;
// - without it and with scripts off (pnpm's default, --ignore-scripts):
//   require fails with that paragraph and a Node-style code.

const test = require('ava');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { PREBUILT, platformTriple } = require('../lib/native-error');

const ROOT = path.join(__dirname, '..');
const HOST = platformTriple().triple;
const BINARY = path.join(ROOT, `pipewrap.${HOST}.node`);
const T = { timeout: 120000 };

function commandPath(name) {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

const npm = commandPath('npm');
const skip = !npm ? 'npm is not on PATH' : !fs.existsSync(BINARY) ? `the addon is not built (${path.basename(BINARY)})` : false;

// A bin dir holding only node and npm, so cargo cannot be found.
function cargoFreePath(dir) {
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(fs.realpathSync(npm), path.join(bin, 'npm'));
  const PATH = [bin, '/usr/bin', '/bin'].join(path.delimiter);
  const cargo = spawnSync('cargo', ['--version'], { env: { ...process.env, PATH }, stdio: 'ignore' });
  assert.notEqual(cargo.status, 0, 'cargo must not be reachable on the test PATH');
  return { ...process.env, PATH, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
}

function project(dir, name, extra = {}) {
  const p = path.join(dir, name);
  fs.mkdirSync(p);
  fs.writeFileSync(path.join(p, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, ...extra }));
  return p;
}

const ECHO = `
const fs = require('fs'), os = require('os'), path = require('path');
const pw = require('pipewrap');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwi-'));
const sock = path.join(dir, 's.sock');
const server = pw.createServer((c) => c.pipe(c));
server.listen(sock, () => {
  const c = pw.connect(sock);
  let got = '';
  c.on('data', (d) => (got += d));
  c.on('end', () => { console.log(got); server.close(); fs.rmSync(dir, { recursive: true }); });
  c.end('echo through the prebuilt binary');
});
`;

(skip ? test.skip : test)('install without Rust: prebuilt platform package, missing package, scripts off', (t) => {
  t.timeout(T.timeout);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-install-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = path.join(dir, 'packs');
  const packed = JSON.parse(
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'pack.js'), '--out', out, '--platform', HOST], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop(),
  );
  const env = cargoFreePath(dir);

  // 1. Both tarballs: no build, nothing Rust-sized left behind.
  const withBinary = project(dir, 'with-binary');
  assert.deepEqual(Object.keys(packed.platforms), [HOST]);
  execFileSync(npm, ['install', packed.platforms[HOST], packed.main], { cwd: withBinary, env, stdio: 'pipe' });
  fs.writeFileSync(path.join(withBinary, 'echo.js'), ECHO);
  const echoed = execFileSync(process.execPath, ['echo.js'], { cwd: withBinary, env, encoding: 'utf8', timeout: 20000 });
  assert.equal(echoed.trim(), 'echo through the prebuilt binary');
  fs.writeFileSync(
    path.join(withBinary, 'named.mjs'),
    "import { createServer, connect } from 'pipewrap';\nimport pw from 'pipewrap';\nconsole.log(typeof createServer, typeof connect, typeof pw.fork);\n",
  );
  const named = execFileSync(process.execPath, ['named.mjs'], { cwd: withBinary, env, encoding: 'utf8' });
  assert.equal(named.trim(), 'function function function');
  const installed = path.join(withBinary, 'node_modules', 'pipewrap');
  assert.equal(fs.existsSync(path.join(installed, 'target')), false, 'no cargo target dir inside node_modules');
  assert.equal(fs.existsSync(path.join(installed, 'rustfmt.toml')), false, 'rustfmt.toml is not shipped');
  assert.equal(fs.existsSync(path.join(installed, 'LICENSE')), true, 'LICENSE is shipped');

  // 2. No platform package, install scripts allowed, no cargo: the install
  // fails and says why in one paragraph.
  const scripted = project(dir, 'no-binary', { allowScripts: { pipewrap: true } });
  const failed = spawnSync(npm, ['install', '--foreground-scripts', packed.main], { cwd: scripted, env, encoding: 'utf8' });
  assert.notEqual(failed.status, 0, 'the install must fail without a binary and without cargo');
  const said = `${failed.stdout}${failed.stderr}`;
  const paragraph = said.split('\n').find((l) => l.startsWith('pipewrap could not load its native binary'));
  assert.ok(paragraph, said);
  assert.ok(paragraph.includes(`optional package pipewrap-${HOST},`), paragraph);
  assert.match(paragraph, /install Rust/);
  assert.doesNotMatch(said, /spawnSync cargo ENOENT/);

  // 3. Scripts off: installs, and require says what is missing.
  const quiet = project(dir, 'scripts-off');
  execFileSync(npm, ['install', '--ignore-scripts', packed.main], { cwd: quiet, env, stdio: 'pipe' });
  const loaded = spawnSync(
    process.execPath,
    ['-e', "try { require('pipewrap') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"],
    { cwd: quiet, env, encoding: 'utf8' },
  );
  const err = JSON.parse(loaded.stdout.trim());
  assert.equal(err.code, 'ERR_PIPEWRAP_NATIVE_MISSING');
  assert.ok(err.message.includes(`optional package pipewrap-${HOST},`), err.message);
  assert.doesNotMatch(err.message, /wasm32-wasi/);
});

// Rust target triple -> platform package, for package.json's napi.targets.
const RUST_TARGETS = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'x86_64-apple-darwin': 'darwin-x64',
  'aarch64-apple-darwin': 'darwin-arm64',
  'x86_64-pc-windows-gnu': 'win32-x64-gnu',
};

test('every platform package matches its triple, the loader error list, optionalDependencies and napi.targets', () => {
  const main = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const dirs = fs.readdirSync(path.join(ROOT, 'npm')).sort();
  assert.deepEqual(dirs, [...PREBUILT].sort(), 'npm/ holds exactly the platforms lib/native-error.js names');
  assert.deepEqual(main.napi.targets.map((r) => RUST_TARGETS[r]).sort(), dirs, 'napi.targets');
  assert.deepEqual(Object.keys(main.optionalDependencies).sort(), dirs.map((d) => `pipewrap-${d}`).sort());
  for (const triple of dirs) {
    const [os_, cpu, libc] = triple.split('-');
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', triple, 'package.json'), 'utf8'));
    const binary = `pipewrap.${triple}.node`;
    assert.equal(pkg.name, `pipewrap-${triple}`);
    assert.equal(pkg.version, main.version, `${triple} version`);
    assert.equal(main.optionalDependencies[pkg.name], main.version, `${pkg.name} in optionalDependencies`);
    assert.equal(pkg.main, binary);
    assert.deepEqual(pkg.files, [binary]);
    assert.deepEqual(pkg.os, [os_]);
    assert.deepEqual(pkg.cpu, [cpu]);
    // npm's libc check only passes on Linux: a darwin or win32 package must
    // not set it (win32-x64-gnu names the toolchain, not a libc).
    assert.deepEqual(pkg.libc, os_ === 'linux' && libc === 'gnu' ? ['glibc'] : undefined, `${triple} libc`);
    assert.deepEqual(pkg.engines, main.engines);
    assert.ok(main.os.includes(os_) && main.cpu.includes(cpu), `the main package installs on ${triple}`);
    assert.ok(fs.existsSync(path.join(ROOT, 'npm', triple, 'README.md')), `${triple} README`);
  }
  // The main package carries no libc field: npm refuses a package with one
  // on macOS, where it finds no libc to compare.
  assert.equal(main.libc, undefined);
});
