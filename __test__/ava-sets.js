'use strict';
// Guard for the two ava configs (run first by `npm test`): every
// __test__/*.test.js file must be in exactly one of ava.config.mjs (worker
// threads) and ava.process.config.mjs (child processes), both must select
// only existing test files, and their shared options must agree.
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const picomatch = require('picomatch'); // ava's own glob matcher

const root = path.join(__dirname, '..');

function selected(files, candidates) {
  const include = files.filter((p) => !p.startsWith('!')).map((p) => picomatch(p));
  const exclude = files.filter((p) => p.startsWith('!')).map((p) => picomatch(p.slice(1)));
  return candidates.filter((f) => include.some((m) => m(f)) && !exclude.some((m) => m(f)));
}

(async () => {
  const load = async (name) => (await import(pathToFileURL(path.join(root, name)))).default;
  const workers = await load('ava.config.mjs');
  const processes = await load('ava.process.config.mjs');
  const testFiles = fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).map((f) => `__test__/${f}`);
  // Files a config names that do not exist would be silently skipped by ava.
  const all = fs.readdirSync(__dirname, { recursive: true }).map((f) => `__test__/${f}`);
  const errors = [];
  for (const [name, config] of [['ava.config.mjs', workers], ['ava.process.config.mjs', processes]]) {
    for (const f of selected(config.files, all)) {
      if (!testFiles.includes(f)) errors.push(`${name} selects ${f}, which is not a __test__/*.test.js file`);
    }
    for (const p of config.files) {
      if (!p.includes('*') && !all.includes(p.replace(/^!/, ''))) errors.push(`${name} names ${p}, which does not exist`);
    }
  }
  const inWorkers = new Set(selected(workers.files, testFiles));
  const inProcesses = new Set(selected(processes.files, testFiles));
  for (const f of testFiles) {
    const n = Number(inWorkers.has(f)) + Number(inProcesses.has(f));
    if (n !== 1) errors.push(`${f} is in ${n === 0 ? 'neither ava config' : 'both ava configs'}`);
  }
  if (workers.workerThreads === false) errors.push('ava.config.mjs must use worker threads');
  if (processes.workerThreads !== false) errors.push('ava.process.config.mjs must set workerThreads: false');
  for (const key of new Set([...Object.keys(workers), ...Object.keys(processes)])) {
    if (key === 'files' || key === 'workerThreads') continue;
    if (JSON.stringify(workers[key]) !== JSON.stringify(processes[key])) {
      errors.push(`option ${key} differs: ${JSON.stringify(workers[key])} vs ${JSON.stringify(processes[key])}`);
    }
  }
  if (errors.length) {
    console.error(`ava test sets:\n  ${errors.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`ava test sets: ${inWorkers.size} files in worker threads, ${inProcesses.size} in child processes`);
})();
