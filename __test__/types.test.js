'use strict';
// Type-checks the hand-written declarations (lib/index.d.ts) with tsc:
// __test__/types/sample.ts (a realistic program with `@ts-expect-error`
// misuse lines) must compile cleanly, and a snippet with a deliberate type
// error must not, so the check cannot pass by checking nothing.

const test = require('ava');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
const project = path.join(__dirname, 'types', 'tsconfig.json');

function runTsc(tsconfig) {
  return new Promise((resolve, reject) => {
    const child = spawn(tsc, ['-p', tsconfig, '--pretty', 'false'], { cwd: root });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, output }));
  });
}

// The three tests were one node:test describe('TypeScript declarations') with
// concurrency: true; here they are top-level ava tests (concurrent by default)
// whose titles keep that prefix.
test('TypeScript declarations: typescript is installed', () => {
  assert.ok(fs.existsSync(tsc), `${tsc} not found: run npm install (typescript is a devDependency)`);
});

test('TypeScript declarations: __test__/types/sample.ts type-checks against lib/index.d.ts', async (t) => {
  t.timeout(60_000);
  const { code, signal, output } = await runTsc(project);
  assert.strictEqual(code, 0, `tsc -p ${path.relative(root, project)} failed (code ${code}, signal ${signal}):\n${output}`);
});

test('TypeScript declarations: a deliberate type error makes tsc fail', async (t) => {
  t.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pipewrap-types-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'bad.ts'), [
    "import { createServer, connect } from 'pipewrap';",
    '// Fine: proves that pipewrap resolves and is typed.',
    "connect('/tmp/x.sock', () => {}).getPeerCredentials().pid.toFixed();",
    '// Wrong: pipewrap has no TCP ports.',
    'createServer().listen(8080);',
    '// Wrong: address() is a string (or null).',
    'const port: number = createServer().address();',
    'export { port };',
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    extends: project,
    files: ['bad.ts'],
  }, null, 2));

  const { code, output } = await runTsc(path.join(dir, 'tsconfig.json'));
  assert.notStrictEqual(code, 0, `tsc accepted code with type errors:\n${output}`);
  const errors = output.split('\n').filter((line) => /error TS\d+/.test(line));
  // Exactly the two deliberate errors, in bad.ts, and nothing else (a
  // resolution failure such as TS2307 would make this pass for the wrong reason).
  assert.deepStrictEqual(
    errors.map((line) => {
      const m = /bad\.ts\((\d+),\d+\): error (TS\d+)/.exec(line);
      return m ? `${m[1]}:${m[2]}` : line;
    }),
    ['5:TS2769', '7:TS2322'],
    `unexpected tsc output:\n${output}`,
  );
});
