'use strict';
// Runs the small jest and ava projects in this folder against this checkout
// of pipewrap, as a user's suite would: several files per worker, module
// registry resets while an earlier copy's server is live, worker threads.
// The frameworks come from the npm registry once, into a cache under the OS
// temp dir (keyed by their versions); each run copies the projects into a
// fresh temp dir whose node_modules links to that cache and to this repo.
// Usage: node __test__/frameworks/run.js  (prints one JSON line per run)
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const VERSIONS = { jest: '30.5.2', ava: '7.0.0' };
const WARNING = /Warning:|closed but not opened|ERR_INVALID_ARG_TYPE|must be an instance of/;

function npmCommand() {
  const r = spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('npm is not on PATH');
  return r.stdout.trim();
}

// The frameworks, installed once per version set.
function cacheDir() {
  const key = crypto.createHash('sha256').update(JSON.stringify(VERSIONS)).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `pipewrap-frameworks-${key}`);
  const done = path.join(dir, '.installed');
  if (fs.existsSync(done)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'pipewrap-fw-cache', private: true }));
  const specs = Object.entries(VERSIONS).map(([n, v]) => `${n}@${v}`);
  const r = spawnSync(npmCommand(), ['install', '--no-audit', '--no-fund', '--ignore-scripts', ...specs], {
    cwd: dir,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`installing ${specs.join(' ')} failed:\n${r.stderr}`);
  fs.writeFileSync(done, '');
  return dir;
}

function copyDir(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (e.name === 'run.js') continue;
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) copyDir(src, dst);
    else fs.copyFileSync(src, dst);
  }
}

// A temp copy of the projects; node_modules links every cached package
// and `pipewrap` to this checkout.
function stage() {
  const cache = cacheDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwfw-'));
  copyDir(__dirname, dir);
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(nm);
  for (const name of fs.readdirSync(path.join(cache, 'node_modules'))) {
    if (name === '.package-lock.json') continue;
    fs.symlinkSync(path.join(cache, 'node_modules', name), path.join(nm, name));
  }
  fs.symlinkSync(ROOT, path.join(nm, 'pipewrap'));
  return dir;
}

function run(label, cwd, args, env = {}) {
  const r = spawnSync(process.execPath, args, {
    cwd,
    encoding: 'utf8',
    timeout: 90000, // a hang (as jest did before the request classes were shared) fails
    env: { ...process.env, ...env, CI: '1', FORCE_COLOR: '0', NODE_OPTIONS: '' },
  });
  const output = `${r.stdout}\n${r.stderr}`;
  return { label, status: r.status, signal: r.signal, warnings: output.split('\n').filter((l) => WARNING.test(l)), output };
}

function runAll() {
  const dir = stage();
  try {
    const jestBin = path.join(dir, 'node_modules', 'jest', 'bin', 'jest.js');
    const avaBin = path.join(dir, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
    const jestDir = path.join(dir, 'jest');
    return [
      run('jest (child processes)', jestDir, [jestBin, '--ci', '--config', 'jest.config.js']),
      run('jest (worker threads)', jestDir, [jestBin, '--ci', '--config', 'jest.config.js'], { PIPEWRAP_JEST_THREADS: '1' }),
      run('jest (one worker, in band)', jestDir, [jestBin, '--ci', '--runInBand', '--config', 'jest.config.js']),
      run('ava (worker threads)', path.join(dir, 'ava'), [avaBin]),
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

module.exports = { runAll };

if (require.main === module) {
  for (const r of runAll()) {
    console.log(JSON.stringify({ label: r.label, status: r.status, signal: r.signal, warnings: r.warnings }));
    if (r.status !== 0 || r.warnings.length) console.log(r.output);
  }
}
