'use strict';
// `npm run pack:all [-- --out DIR]`: the two tarballs a release publishes,
// as napi-rs's prepublish does: the platform package (npm/linux-x64-gnu with
// the built binary copied in) and the main package, whose optional
// dependency on it lets installs skip the Rust toolchain. Other targets
// (see package.json napi.targets) are built on their own machines or with
// `napi build --target <triple>` under cross-compilers, each into its
// npm/<platform> directory, before this step.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = path.resolve(outAt >= 0 ? args[outAt + 1] : path.join(root, 'dist'));
fs.mkdirSync(out, { recursive: true });

const platform = 'linux-x64-gnu';
const binary = path.join(root, `pipewrap.${platform}.node`);
if (!fs.existsSync(binary)) {
  console.error(`pack: ${path.relative(root, binary)} is missing: run \`npm run build\` first`);
  process.exit(1);
}

const npmCli = process.env.npm_execpath && process.env.npm_execpath.endsWith('.js') ? [process.execPath, process.env.npm_execpath] : ['npm'];
const pack = (dir) => {
  const [cmd, ...pre] = npmCli;
  const name = execFileSync(cmd, [...pre, 'pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8' });
  return path.join(out, name.trim().split('\n').pop());
};

// Stage the platform package outside the tree, so packing never leaves a
// binary copy inside npm/.
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'pipewrap-pack-'));
try {
  for (const f of fs.readdirSync(path.join(root, 'npm', platform))) {
    fs.copyFileSync(path.join(root, 'npm', platform, f), path.join(stage, f));
  }
  fs.copyFileSync(binary, path.join(stage, path.basename(binary)));
  const platformTarball = pack(stage);
  const mainTarball = pack(root);
  console.log(JSON.stringify({ platform: platformTarball, main: mainTarball }));
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
