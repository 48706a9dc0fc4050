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

module.exports = { rawBinding, allowedCpus };
