'use strict';
// pipewrap inside users' processes and frameworks: two copies of the JS
// layer, worker threads, fds pipewrap hands out, and the framework projects
// in __test__/frameworks (jest and ava, installed from the registry once).

const test = require('ava');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { tmpdir } = require('./net-helpers');

const ROOT = path.join(__dirname, '..');
const CHILD = path.join(__dirname, 'frameworks', 'child.js');

// Runs `code` from a file in a fresh Node process (so module caches and
// warnings are its own; not with -e: fork() re-runs -e code inside a
// worker, in Node as here); returns its parsed last stdout line and stderr.
function runNode(t, code) {
  const file = path.join(tmpdir(t), 'main.js');
  fs.writeFileSync(file, code);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30000, cwd: ROOT });
  assert.equal(r.signal, null, `${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()), stderr: r.stderr };
}

test('a server from one copy of the JS layer is sent through another copy\'s fork channel', (t) => {
  const dir = tmpdir(t);
  const { result } = runNode(t, `
    const A = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
    for (const k of Object.keys(require.cache)) if (k.startsWith(${JSON.stringify(ROOT + path.sep)})) delete require.cache[k];
    const B = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
    const server = B.createServer();
    server.listen(${JSON.stringify(path.join(dir, 's.sock'))}, () => {
      const child = A.fork(${JSON.stringify(CHILD)});
      let answer = null;
      child.on('message', (m) => (answer = m));
      child.on('exit', (code) => {
        server.close();
        console.log(JSON.stringify({ distinct: A.Server !== B.Server, answer, code }));
      });
      child.send('take this', server, (err) => { if (err) { console.log(JSON.stringify({ err: err.code })); process.exit(0); } });
    });
  `);
  assert.deepEqual(result, { distinct: true, answer: { echo: 'take this', handle: 'Server' }, code: 0 });
});

test('fork() and socketpair() inside a worker thread print no fd warnings', (t) => {
  const { result, stderr } = runNode(t, `
    const { Worker } = require('node:worker_threads');
    const w = new Worker(\`
      const pw = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
      const { parentPort } = require('node:worker_threads');
      const [a, b] = pw.socketpair();
      a.destroy(); b.destroy();
      const [mine, fd] = pw.socketpair({ peer: 'fd' });
      mine.destroy();
      pw.closeFd(fd);
      const child = pw.fork(${JSON.stringify(CHILD)});
      child.on('message', (m) => parentPort.postMessage(m));
      child.on('exit', (code) => parentPort.postMessage({ exit: code }));
      child.send('hi');
    \`, { eval: true, stderr: true });
    let err = '';
    const got = [];
    w.stderr.on('data', (d) => (err += d));
    w.on('message', (m) => got.push(m));
    w.on('exit', (code) => console.log(JSON.stringify({ code, got, err })));
  `);
  assert.equal(result.code, 0);
  assert.deepEqual(result.got, [{ echo: 'hi', handle: null }, { exit: 0 }]);
  assert.doesNotMatch(`${result.err}${stderr}`, /Warning|closed but not opened/);
});

test('socketpair({ peer: \'fd\' }) hands a child a blocking end', (t) => {
  const { result } = runNode(t, `
    const pw = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
    const { spawn } = require('node:child_process');
    const [mine, fd] = pw.socketpair({ peer: 'fd' });
    const child = spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], { stdio: [fd, fd, 'inherit'] });
    pw.closeFd(fd);
    let got = '';
    mine.on('data', (d) => { got += d; if (got === 'round trip') mine.end(); });
    mine.on('close', () => console.log(JSON.stringify({ got, type: typeof fd })));
    mine.write('round trip');
  `);
  assert.deepEqual(result, { got: 'round trip', type: 'number' });
  assert.throws(() => require('../lib/index.js').socketpair({ peer: 'pipe' }), { code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => require('../lib/index.js').closeFd('3'), { code: 'ERR_INVALID_ARG_TYPE' });
});

test('every README snippet runs as written', (t) => {
  const dir = tmpdir(t);
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'pipewrap'));
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const snippets = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(snippets.length >= 5, 'README snippets found');
  snippets.forEach((code, i) => {
    const file = path.join(dir, `snippet-${i}.js`);
    fs.writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 20000 });
    assert.equal(r.signal, null, `snippet ${i} hung or crashed:\n${code}\n${r.stderr}`);
    assert.equal(r.status, 0, `snippet ${i} failed:\n${code}\n${r.stderr}`);
    assert.notEqual(r.stdout.trim(), '', `snippet ${i} printed nothing`);
  });
});

test('pipewrap inside jest and ava projects: resets, worker threads, no warnings', (t) => {
  t.timeout(600000);
  const { runAll } = require('./frameworks/run');
  for (const r of runAll()) {
    assert.equal(r.signal, null, `${r.label} was killed (a hang?):\n${r.output}`);
    assert.equal(r.status, 0, `${r.label} failed:\n${r.output}`);
    assert.deepEqual(r.warnings, [], `${r.label} printed warnings`);
  }
});
