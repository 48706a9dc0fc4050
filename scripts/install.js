'use strict';
// `npm install` hook. In order:
// 1. A development checkout (the napi CLI, a dev dependency, is present):
//    build the addon with it, which also regenerates index.js/index.d.ts.
// 2. An installed copy with a loadable binary (the optional platform package
//    pipewrap-<platform>, e.g. pipewrap-linux-arm64-gnu, or a binary built
//    earlier): nothing to do, no Rust needed.
// 3. Asked to build from source (`npm install --build-from-source`, or
//    PIPEWRAP_BUILD_FROM_SOURCE=1), or no binary at all: build with cargo
//    into a target dir under the OS temp dir (never inside node_modules),
//    and copy the library next to index.js.
// Without a binary and without cargo, one readable paragraph says what to do.
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const { nativeMissingMessage, platformTriple } = require('../lib/native-error');

function napiCli() {
  try {
    return require.resolve('@napi-rs/cli/package.json', { paths: [root] });
  } catch {
    return null;
  }
}

function wantsSource() {
  const flag = String(process.env.npm_config_build_from_source || '').toLowerCase();
  return flag === 'true' || flag === 'pipewrap' || process.env.PIPEWRAP_BUILD_FROM_SOURCE === '1';
}

function binaryLoads() {
  // In a child process: a failed dlopen must not poison this one, and a
  // stale require cache must not answer for a fresh build.
  // Through lib/binding.js: on Windows it also finds the GNU-built binary
  // the generated loader does not look for under the MSVC-built node.exe.
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(root, 'lib', 'binding.js'))})`], {
    stdio: 'ignore',
  });
  return r.status === 0;
}

function hasCargo() {
  return spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0;
}

function buildWithCargo() {
  if (process.platform === 'win32') {
    // The Windows addon links against node.exe's own exports through an
    // import library made on the build machine (npm run build:win, from
    // Linux); a build on Windows itself is not set up.
    process.stderr.write('\npipewrap: building from source on Windows is not supported; install the prebuilt ' +
      'package pipewrap-win32-x64-gnu (it comes with `npm install pipewrap`).\n\n');
    return 1;
  }
  const { version } = require('../package.json');
  const target = process.env.CARGO_TARGET_DIR || path.join(os.tmpdir(), `pipewrap-target-${version}`);
  execFileSync('cargo', ['build', '--release', '-p', 'pipewrap'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, CARGO_TARGET_DIR: target },
  });
  const built = path.join(target, 'release', process.platform === 'darwin' ? 'libpipewrap.dylib' : 'libpipewrap.so');
  // The name the generated loader (index.js) looks for first on this machine.
  const dest = path.join(root, `pipewrap.${platformTriple().triple}.node`);
  // Write next to the old file and rename: a running process may have it mapped.
  fs.copyFileSync(built, `${dest}.tmp`);
  fs.renameSync(`${dest}.tmp`, dest);
  return 0;
}

function main() {
  const cli = napiCli();
  if (cli) {
    execFileSync(process.execPath, [path.join(path.dirname(cli), 'dist', 'cli.js'), 'build', '--platform', '--release'], {
      cwd: root,
      stdio: 'inherit',
    });
    return 0;
  }
  if (!wantsSource() && binaryLoads()) return 0;
  if (!hasCargo()) {
    process.stderr.write(`\n${nativeMissingMessage()}\n\n`);
    return 1;
  }
  return buildWithCargo();
}

process.exitCode = main();
