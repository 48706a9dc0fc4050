'use strict';
module.exports = {
  testEnvironment: 'node',
  transform: {},
  maxWorkers: 2,
  testTimeout: 30000,
  // PIPEWRAP_JEST_THREADS=1: run the test files in worker threads.
  workerThreads: process.env.PIPEWRAP_JEST_THREADS === '1',
};
