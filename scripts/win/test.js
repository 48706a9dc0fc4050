'use strict';
// npm run test:win [-- --impl node|pipewrap] [-- --node 20|22] [-- FILE...]
//
// Runs the Windows suite (__test__/win/*.test.js, node:test) under Wine's
// node.exe. Every scenario runs against Node's own net / child_process /
// process.binding (the oracle) and the implementation under test, in the same
// process, and compares what users observe (__test__/win/harness.js).
//
//   --impl pipewrap  (default) require('pipewrap'): needs the Windows addon,
//                    pipewrap.win32-x64-gnu.node (npm run build:win)
//   --impl node      Node's own on both sides: proves every scenario passes
//                    and is deterministic under this Wine (pipewrap-only
//                    tests skip). Also PIPEWRAP_WIN_IMPL=node.
//   --node 22        run on node.exe 22 instead of 20 (PIPEWRAP_WIN_NODE)
//
// node.exe's stdout/stderr go to files (a Linux pipe as its stdout breaks
// Node under Wine), printed when it exits. Exits non-zero if anything failed
// or could not run, with the reason; the last line is
// "windows: N passed, N failed, N skipped, N todo" (todo: a known
// difference from Node, named with its reason in the output).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const take = (name) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const [, v] = args.splice(i, 2);
  return v;
};
const impl = take('impl') || process.env.PIPEWRAP_WIN_IMPL || 'pipewrap';
const nodeMajor = take('node');
if (nodeMajor) process.env.PIPEWRAP_WIN_NODE = nodeMajor;
const env = require('./env');
if (!['node', 'pipewrap'].includes(impl)) {
  console.error(`test:win: --impl ${impl}: use node or pipewrap`);
  process.exit(2);
}

const winDir = path.join(env.ROOT, '__test__', 'win');
const files = args.length
  ? args.map((f) => path.relative(env.ROOT, path.resolve(f)))
  : fs.readdirSync(winDir).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join('__test__', 'win', f));

function fail(msg) {
  console.error(`test:win: ${msg}`);
  console.log('windows: 0 passed, 1 failed');
  process.exit(1);
}

env.requireReady();
if (!fs.existsSync(env.ENVU)) fail(`missing ${env.ENVU} (the openChannel interop tests need it): run scripts/win/setup.sh`);

(async () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-test-win-'));
  const version = env.nodeVersion();
  const t0 = Date.now();
  console.log(`== test:win: ${files.length} files on node.exe ${version} under ${env.WINE}, implementation under test: ${impl === 'node' ? "Node's own (oracle-only mode)" : 'pipewrap'}`);

  // Preflight for pipewrap: does require('pipewrap') load in node.exe? Say
  // why not up front; the suite still runs (every scenario then fails).
  let loadProblem = null;
  if (impl === 'pipewrap') {
    if (!fs.existsSync(env.ADDON)) loadProblem = `${path.basename(env.ADDON)} is not built (npm run build:win)`;
    const probe = await env.runNodeExe(['-e', [
      "const v = process.config.variables;",
      "console.log('loader-branch', (v.shlib_suffix === 'dll.a' || v.node_target_type === 'shared_library') ? 'gnu' : 'msvc');",
      "try { const pw = require('pipewrap'); console.log('loaded', typeof pw.createServer, typeof pw.binding.Pipe); }",
      "catch (e) { console.log('failed', (e.code || '') + ' ' + String(e.message).split('\\n').slice(0, 3).join(' | ')); }",
    ].join('\n')], { outDir, label: 'preflight', timeout: 60000 });
    const out = probe.stdout.trim();
    const branch = /loader-branch (\w+)/.exec(out)?.[1];
    if (!/^loaded function function$/m.test(out)) {
      if (branch === 'msvc') {
        console.log("test:win: note: this node.exe is an MSVC build, so napi-rs's generated index.js looks for pipewrap.win32-x64-msvc.node / pipewrap-win32-x64-msvc, not the -gnu binary; lib/binding.js must load the -gnu file itself on win32-x64");
      }
      loadProblem = `${loadProblem ? `${loadProblem}; ` : ''}require('pipewrap') in node.exe: ${out.split('\n').filter((l) => !l.startsWith('loader-branch')).join(' ') || probe.stderr.trim().split('\n')[0]}`;
    }
    if (loadProblem) console.log(`test:win: pipewrap does not load on Windows yet: ${loadProblem}\n  -> every scenario will fail at its pipewrap half (expected until the Windows backend lands; \`--impl node\` checks the suite itself)`);
  }

  const run = await env.runNodeExe([
    '--no-deprecation', '--test', '--test-force-exit', '--test-reporter=spec', ...files,
  ], {
    outDir,
    label: 'suite',
    timeout: 20 * 60 * 1000,
    env: {
      PIPEWRAP_WIN_IMPL: impl,
      PIPEWRAP_WIN_ENVU: env.winPath(env.ENVU),
      ...(process.env.PIPEWRAP_WIN_TRACE ? { PIPEWRAP_WIN_TRACE: '1' } : {}),
    },
  });
  process.stdout.write(run.stdout);
  if (run.stderr.trim()) process.stdout.write(`--- node.exe stderr ---\n${run.stderr}`);
  const count = (k) => Number(new RegExp(`^ℹ ${k} (\\d+)$`, 'm').exec(run.stdout)?.[1] ?? NaN);
  const pass = count('pass');
  const failed = count('fail') + (count('cancelled') || 0);
  const skipped = count('skipped') || 0;
  // Known differences from Node, marked TODO in the test file with why.
  const todo = count('todo') || 0;
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (run.timedOut) fail(`the suite did not finish in 20 minutes (killed); output above (files in ${outDir})`);
  if (Number.isNaN(pass) || Number.isNaN(failed)) fail(`node.exe exited ${run.code} without a node:test summary (files in ${outDir})`);
  if (failed && impl === 'pipewrap' && loadProblem) console.log(`test:win: ${failed} failed because pipewrap does not load on Windows yet (see above)`);
  if (!failed && run.code !== 0) fail(`no test failed but node.exe exited ${run.code}`);
  if (pass === 0) fail('no test passed');
  console.log(`== test:win: ${secs}s, implementation ${impl}, node.exe ${version}`);
  if (todo) console.log(`test:win: ${todo} known difference(s) from Node, marked # TODO above with the reason`);
  console.log(`windows: ${pass} passed, ${failed} failed, ${skipped} skipped, ${todo} todo`);
  process.exit(failed ? 1 : 0);
})().catch((err) => fail(err.stack));
