'use strict';
// What several bench scripts share: the raw binding of an implementation,
// and the CPUs this process may run on (for pinning with taskset).
const fs = require('node:fs');

// pipewrap's binding, or Node's internal pipe_wrap + stream_wrap
// (process.binding is allow-listed in Node 20).
function rawBinding(implName) {
  if (implName === 'pipewrap') return require('../lib/binding');
  const { Pipe, PipeConnectWrap, constants } = process.binding('pipe_wrap');
  const { WriteWrap, ShutdownWrap, streamBaseState } = process.binding('stream_wrap');
  return { Pipe, PipeConnectWrap, constants, WriteWrap, ShutdownWrap, streamBaseState };
}

// The CPUs in this process's affinity mask, in order ([] if unknown).
const allowedCpus = (() => {
  try {
    const list = fs.readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(.+)$/m)[1];
    return list.split(',').flatMap((r) => {
      const [a, b = a] = r.split('-').map(Number);
      return Array.from({ length: b - a + 1 }, (_, i) => a + i);
    });
  } catch {
    return [];
  }
})();

// Reads JSON lines from a raw Pipe (`st`: its implementation's
// streamBaseState) and calls onMessage(message) for each; onEnd() at EOF.
// The floor loops' whole framework: one line per message, ASCII payloads.
function onJsonLines(pipe, st, onMessage, onEnd = () => {}) {
  let pending = '';
  pipe.onread = (ab) => {
    if (!ab) return onEnd();
    pending += Buffer.from(ab, st[1], st[0]).toString();
    let nl;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const msg = JSON.parse(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      onMessage(msg);
    }
  };
}

module.exports = { rawBinding, allowedCpus, onJsonLines };
