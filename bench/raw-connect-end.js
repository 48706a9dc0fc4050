'use strict';
// connect-end on the bare bindings, for instruction counts (not a timed row):
//   node bench/raw-connect-end.js <pipewrap|node> [count=3000] [warmup=0]
// The server shuts each accepted Pipe down and closes it; the client
// connects, reads to EOF, shuts down and closes; one connection at a time.
// Per connection under callgrind: run it with two counts and the same
// warm-up and divide the difference of the totals by the difference of the
// counts (bench/RESULTS.md, "Latest session").
const path = require('path'); const fs = require('fs'); const os = require('os');
const { rawBinding } = require('./common');
const [impl, nArg, warmArg] = process.argv.slice(2);
const N = Number(nArg || 3000); const WARM = Number(warmArg || 0);
const { Pipe, PipeConnectWrap, ShutdownWrap, constants } = rawBinding(impl);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rce-')); const p = path.join(dir, 's');
const server = new Pipe(constants.SERVER);
if (server.bind(p) || server.listen(511)) throw new Error('listen');
server.onconnection = (err, h) => {
  h.onread = (ab) => {};
  h.readStart();
  const sr = new ShutdownWrap(); sr.handle = h; sr.oncomplete = () => h.close();
  h.shutdown(sr);
};
let left = N + WARM; let t0;
function one() {
  if (left === N) t0 = process.hrtime.bigint();
  const c = new Pipe(constants.SOCKET);
  const req = new PipeConnectWrap();
  req.oncomplete = (status) => {
    if (status) throw new Error('connect ' + status);
    c.onread = (ab) => {
      if (ab !== undefined) return;
      const sr = new ShutdownWrap(); sr.handle = c;
      sr.oncomplete = () => c.close(() => { if (--left === 0) done(); else one(); });
      c.shutdown(sr);
    };
    c.readStart();
  };
  const r = c.connect(req, p); if (r) throw new Error('connect ' + r);
}
function done() {
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ impl, rate: N / s }));
  server.close(); fs.rmSync(dir, { recursive: true });
}
one();
