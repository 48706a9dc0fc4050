'use strict';
// The workerpool worker of bench/clients.js: a plain Node child (in both
// runs) answering each task with its argument. Under --pin split it moves
// itself to the servers' CPU (it inherited the client's).
const workerpool = require('workerpool');

if (process.env.PWC_CHILD_CPU) {
  require('node:child_process').execFileSync('taskset', ['-pc', process.env.PWC_CHILD_CPU, String(process.pid)], { stdio: 'ignore' });
}
workerpool.worker({ echo: (x) => x });
