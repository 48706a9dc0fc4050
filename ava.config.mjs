// ava config for the test files that run in worker threads (ava's default):
// every __test__/*.test.js except the ones that need a process of their own,
// listed (with the reason) in ava.process.config.mjs and run by
// `ava --config ava.process.config.mjs`. `npm test` runs both.
//
// - concurrency 2: two files at a time (tests inside a file run concurrently
//   unless marked test.serial).
// - timeout: ava's inactivity timeout for the whole run (no test finished in
//   that long); tests with a timeout of their own set it with t.timeout().
// - failWithoutAssertions: false: the tests assert with node:assert/strict,
//   which throws, rather than with t.*.
import { processFiles } from './ava.process.config.mjs';

export default {
  files: ['__test__/*.test.js', ...processFiles.map((f) => `!${f}`)],
  workerThreads: true,
  concurrency: 2,
  timeout: '2m',
  failWithoutAssertions: false,
};
