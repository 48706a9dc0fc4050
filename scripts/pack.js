'use strict';
// `npm run pack:all [-- --out DIR] [--binaries DIR] [--platform TRIPLE]...`:
// the tarballs a release publishes, as napi-rs's prepublish does: one
// platform package per binary (npm/<triple>/ with pipewrap.<triple>.node
// copied in) and the main package, whose optional dependencies on them let
// installs skip the Rust toolchain.
//
// Binaries are looked up as pipewrap.<triple>.node in the --binaries dirs
// (and their direct subdirectories), then in the repository root, where
// `npm run build` / `napi build --platform` put them. scripts/ci-platforms.sh
// builds all four (Linux x64/arm64 against glibc 2.17, macOS x64/arm64, with
// cargo-zigbuild). Without --platform, every platform whose binary is found is
// packed; a --platform whose binary is missing is an error.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { PREBUILT } = require('../lib/native-error');

const root = path.join(__dirname, '..');
const args = process.argv.slice(2);
const values = (flag) => args.flatMap((a, i) => (a === flag && i + 1 < args.length ? [args[i + 1]] : []));
const fail = (msg) => {
  console.error(`pack: ${msg}`);
  process.exit(1);
};

const out = path.resolve(values('--out')[0] || path.join(root, 'dist'));
const searchDirs = values('--binaries').flatMap((d) => {
  const dir = path.resolve(d);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) fail(`--binaries ${d} is not a directory`);
  const subdirs = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory());
  return [dir, ...subdirs.map((e) => path.join(dir, e.name))];
});
searchDirs.push(root);

function binaryFor(triple) {
  for (const dir of searchDirs) {
    const f = path.join(dir, `pipewrap.${triple}.node`);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

const requested = values('--platform');
for (const p of requested) {
  if (!PREBUILT.includes(p)) fail(`unknown platform ${p} (known: ${PREBUILT.join(', ')})`);
}
const platforms = requested.length ? requested : PREBUILT.filter(binaryFor);
if (!platforms.length) fail(`no pipewrap.<platform>.node binary found: run \`npm run build\` first`);

const main = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
for (const triple of platforms) {
  if (!binaryFor(triple)) fail(`pipewrap.${triple}.node is missing (looked in ${searchDirs.join(', ')})`);
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'npm', triple, 'package.json'), 'utf8'));
  if (pkg.version !== main.version) fail(`npm/${triple} is version ${pkg.version}, pipewrap is ${main.version}`);
  if (main.optionalDependencies?.[pkg.name] !== main.version) {
    fail(`package.json optionalDependencies must list ${pkg.name} at ${main.version}`);
  }
}

fs.mkdirSync(out, { recursive: true });
const npmCli = process.env.npm_execpath && process.env.npm_execpath.endsWith('.js') ? [process.execPath, process.env.npm_execpath] : ['npm'];
const pack = (dir) => {
  const [cmd, ...pre] = npmCli;
  const name = execFileSync(cmd, [...pre, 'pack', '--silent', '--pack-destination', out], { cwd: dir, encoding: 'utf8' });
  return path.join(out, name.trim().split('\n').pop());
};

// Stage each platform package outside the tree, so packing never leaves a
// binary copy inside npm/.
const packed = { main: null, platforms: {} };
for (const triple of platforms) {
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'pipewrap-pack-'));
  try {
    for (const f of fs.readdirSync(path.join(root, 'npm', triple))) {
      fs.copyFileSync(path.join(root, 'npm', triple, f), path.join(stage, f));
    }
    fs.copyFileSync(binaryFor(triple), path.join(stage, `pipewrap.${triple}.node`));
    packed.platforms[triple] = pack(stage);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
packed.main = pack(root);
console.log(JSON.stringify(packed));
