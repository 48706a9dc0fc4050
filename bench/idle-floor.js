'use strict';
// The floor of the idle row, per socket end: what a bare stream.Duplex and
// a bare binding handle reading on one end of a socketpair cost in RSS
// (after GC), measured the way the idle row measures a whole net.Socket.
//   node --expose-gc bench/idle-floor.js <pipewrap|node> [both|pipe|duplex] [count]
// `node` uses Node's internal Pipe, `pipewrap` ours; `pipe` and `duplex`
// measure one part alone. The socketpairs are made before the measurement
// starts (their cost is kernel memory, not this process's RSS). Needs two
// fds per end: raise the soft limit first (`ulimit -n "$(ulimit -Hn)"`).
const { Duplex } = require('node:stream');
const { rawBinding } = require('./common');
const { socketpair } = require('../lib/binding').native;

const [implName, what = 'both', countArg] = process.argv.slice(2);
const count = Number(countArg || 5000);
if (typeof globalThis.gc !== 'function') {
  console.error('run with --expose-gc');
  process.exit(2);
}
const { Pipe, constants } = rawBinding(implName);

const pairs = Array.from({ length: count }, () => socketpair());
const ends = [];
gc();
gc();
const before = process.memoryUsage().rss;
for (const [fd] of pairs) {
  let handle = null;
  if (what !== 'duplex') {
    handle = new Pipe(constants.SOCKET);
    handle.open(fd);
    handle.onread = () => {};
    handle.readStart();
  }
  let stream = null;
  if (what !== 'pipe') {
    stream = new Duplex({ read() {}, write(chunk, encoding, cb) { cb(); } });
    stream._handle = handle;
  }
  ends.push(stream || handle);
}
gc();
setTimeout(() => {
  gc();
  const perEnd = (process.memoryUsage().rss - before) / count;
  process.stdout.write(JSON.stringify({ impl: implName, what, count, bytesPerEnd: Math.round(perEnd) }) + '\n');
  process.exit(0);
}, 100);
