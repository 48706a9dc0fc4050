'use strict';
// `npm install` builds the addon from source. In this repository the napi CLI
// (a dev dependency) builds it and regenerates index.js/index.d.ts; in an
// installed copy of the package, where dev dependencies are absent, cargo
// builds it directly and the shipped index.js loads it.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

let cli = null;
try {
  cli = require.resolve('@napi-rs/cli/package.json', { paths: [root] });
} catch {
  // Not a development checkout.
}

if (cli) {
  run(process.execPath, [path.join(path.dirname(cli), 'dist', 'cli.js'), 'build', '--platform', '--release']);
} else {
  run('cargo', ['build', '--release', '-p', 'pipewrap']);
  const target = process.env.CARGO_TARGET_DIR || path.join(root, 'target');
  const built = path.join(target, 'release', 'libpipewrap.so');
  const dest = path.join(root, `pipewrap.${process.platform}-${process.arch}-gnu.node`);
  // Write next to the old file and rename: a running process may have it mapped.
  fs.copyFileSync(built, `${dest}.tmp`);
  fs.renameSync(`${dest}.tmp`, dest);
}
