'use strict';
// npm run build:win [-- --check] [-- --crate DIR --out FILE --target-dir DIR]
//
// Cross-builds the addon for Windows x64 (x86_64-pc-windows-gnu) on Linux:
// 1. node.exe's import library, made here from the pinned node.exe
//    (scripts/win/env.js): its napi_*, node_api_* and uv_* exports into a
//    .def naming `node.exe`, then mingw's dlltool -> libnode.dll.a, with an
//    empty libnode.dll beside it (napi-build only checks that this file
//    exists; ld takes libnode.dll.a first). LIBNODE_PATH points there.
// 2. cargo build --release --target x86_64-pc-windows-gnu, linked by
//    x86_64-w64-mingw32-gcc, under `nice` (shared 2-core machine).
// 3. The DLL copied to pipewrap.win32-x64-gnu.node next to index.js (and
//    into npm/win32-x64-gnu/ for packing).
// cargo + copy rather than `napi build`: napi build regenerates index.js and
// index.d.ts, which belong to the Linux build.
//
// --check      cargo check only (no import library needed beyond step 1)
// --clippy     cargo clippy -D warnings instead (CI lints the Windows-only
//              code, which the Linux clippy never compiles)
// --crate DIR  build another crate with the same pipeline (the throwaway
//              addon that proves linking against node.exe's uv_* works)
// --out FILE   where to copy the result (default: pipewrap.win32-x64-gnu.node)
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const env = require('./env');

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const clippy = args.includes('--clippy');
const check = args.includes('--check') || clippy;
const crateDir = path.resolve(opt('crate') || env.ROOT);
// The project's crate (here or a copy of it, e.g. a `git archive` of a commit).
const isOwnCrate = /^\s*name\s*=\s*"pipewrap"\s*$/m.test(fs.readFileSync(path.join(crateDir, 'Cargo.toml'), 'utf8'));
const targetDir = path.resolve(opt('target-dir') || process.env.CARGO_TARGET_DIR || path.join(crateDir, 'target'));

env.requireReady({ needBuild: true });
if (spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('build:win: cargo is not on the PATH -> install Rust with rustup');
  process.exit(2);
}
const installed = spawnSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' });
if (installed.status === 0 && !installed.stdout.split('\n').includes(env.TARGET)) {
  console.error(`build:win: the Rust target ${env.TARGET} is not installed -> rustup target add ${env.TARGET} (or run scripts/win/setup.sh)`);
  process.exit(2);
}

// 1. The import library.
function importLibrary() {
  const exe = env.nodeExe();
  const dir = env.LIBNODE_DIR;
  const lib = path.join(dir, 'libnode.dll.a');
  const stamp = path.join(dir, 'node-version');
  const version = env.nodeVersion();
  if (fs.existsSync(lib) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === version) return dir;
  fs.mkdirSync(dir, { recursive: true });
  const dump = execFileSync(`${env.MINGW}-objdump`, ['-p', exe], { encoding: 'utf8', maxBuffer: 64 << 20 });
  // The export name table: lines "\t[ 123] name" after "[Ordinal/Name Pointer] Table".
  const at = dump.indexOf('[Ordinal/Name Pointer] Table');
  if (at < 0) throw new Error(`no export table in ${exe}`);
  const names = [];
  for (const line of dump.slice(at).split('\n').slice(1)) {
    const m = /^\s*\[\s*\d+\]\s+(\S+)\s*$/.exec(line);
    if (!m) {
      if (line.trim() === '') break;
      continue;
    }
    if (/^(napi_|node_api_|uv_)/.test(m[1])) names.push(m[1]);
  }
  const uv = names.filter((n) => n.startsWith('uv_')).length;
  if (names.length < 200 || uv < 100 || !names.includes('napi_get_uv_event_loop')) {
    throw new Error(`only ${names.length} napi/uv exports (${uv} uv_) found in ${exe}: not a Node for Windows?`);
  }
  const def = path.join(dir, 'node.def');
  fs.writeFileSync(def, ['LIBRARY node.exe', 'EXPORTS', ...names.map((n) => `    ${n}`), ''].join('\n'));
  execFileSync(`${env.MINGW}-dlltool`, ['-d', def, '-l', lib, '-D', 'node.exe'], { stdio: 'inherit' });
  fs.writeFileSync(path.join(dir, 'libnode.dll'), ''); // napi-build checks it exists; never linked
  fs.writeFileSync(stamp, version);
  console.log(`build:win: import library for node.exe ${version}: ${names.length} exports (${uv} uv_*) -> ${lib}`);
  return dir;
}

const libnode = importLibrary();
const cargoEnv = {
  ...process.env,
  LIBNODE_PATH: libnode,
  CARGO_TARGET_DIR: targetDir,
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER: `${env.MINGW}-gcc`,
  CC_x86_64_pc_windows_gnu: `${env.MINGW}-gcc`,
  AR_x86_64_pc_windows_gnu: `${env.MINGW}-ar`,
};
const pkgArgs = isOwnCrate ? ['-p', 'pipewrap'] : [];
const verb = clippy ? 'clippy' : check ? 'check' : 'build';
const cargoArgs = [verb, '--release', '--target', env.TARGET, ...pkgArgs, '--message-format', 'short',
  ...(clippy ? ['--', '-D', 'warnings'] : [])];
console.log(`build:win: nice cargo ${cargoArgs.join(' ')} (in ${crateDir}, target dir ${targetDir})`);
const t0 = Date.now();
const r = spawnSync('nice', ['-n', '10', 'cargo', ...cargoArgs], { cwd: crateDir, env: cargoEnv, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`build:win: cargo ${verb} for ${env.TARGET} failed (exit ${r.status}) after ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  process.exit(1);
}
if (check) {
  console.log(`build:win: cargo ${verb} passed in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
  process.exit(0);
}

// 3. Copy the DLL. Its name is the crate's lib name.
const meta = JSON.parse(execFileSync('cargo', ['metadata', '--no-deps', '--format-version', '1'], { cwd: crateDir, encoding: 'utf8' }));
const pkg = isOwnCrate ? meta.packages.find((p) => p.name === 'pipewrap') : meta.packages.find((p) => path.dirname(p.manifest_path) === crateDir);
const libTarget = pkg.targets.find((t) => t.kind.includes('cdylib'));
const dll = path.join(targetDir, env.TARGET, 'release', `${libTarget.name.replace(/-/g, '_')}.dll`);
const out = path.resolve(opt('out') || env.ADDON);
fs.copyFileSync(dll, `${out}.tmp`);
fs.renameSync(`${out}.tmp`, out);
const copies = [out];
if (isOwnCrate && !opt('out')) {
  const npmDir = path.join(env.ROOT, 'npm', 'win32-x64-gnu');
  if (fs.existsSync(npmDir)) {
    fs.copyFileSync(dll, path.join(npmDir, path.basename(env.ADDON)));
    copies.push(path.join(npmDir, path.basename(env.ADDON)));
  }
}
// What the DLL imports from node.exe: a quick sanity line.
const imports = execFileSync(`${env.MINGW}-objdump`, ['-p', out], { encoding: 'utf8', maxBuffer: 64 << 20 });
const dlls = [...new Set([...imports.matchAll(/DLL Name: (\S+)/g)].map((m) => m[1]))];
console.log(`build:win: built in ${((Date.now() - t0) / 1000).toFixed(0)}s -> ${copies.join(', ')} (${(fs.statSync(out).size / 1024).toFixed(0)} KiB; imports ${dlls.join(' ')})`);
