'use strict';
// Splits a perf profile of one benchmark process into what any binding has
// to pay and what a binding could save, to bound a row from above:
//   perf record -e cpu-clock -F 5000 -o p.data -- node --perf-basic-prof \
//     bench/workload.js node raw-bulk 8
//   node bench/perf-split.js p.data
// Categories, by the symbol of each sample (self time):
//   kernel   - the syscalls and page faults: the same calls for both
//              implementations (strace), so no binding changes them;
//   buffers  - allocating, filling and freeing the read buffers (malloc,
//              memset/memmove, V8's ArrayBuffer and backing store code);
//   gc       - V8's garbage collector;
//   binding  - the binding and its calls into JS: stream/request wrappers,
//              libuv's user-space side, V8's API entry and exit, the
//              epoll/read/write wrappers in libc;
//   js       - JIT-compiled JavaScript (the benchmark's own loop);
//   other    - everything else (mostly start-up: module compilation, TLS
//              setup), which a longer run dilutes.
const { execFileSync } = require('node:child_process');

const file = process.argv[2];
if (!file) {
  console.error('usage: node bench/perf-split.js <perf.data>');
  process.exit(2);
}
const report = execFileSync('perf', ['report', '-i', file, '--no-children', '--sort', 'dso,sym', '-q', '-g', 'none', '-n'], {
  encoding: 'utf8',
  maxBuffer: 256 * 1024 * 1024,
  stdio: ['ignore', 'pipe', 'ignore'],
});

const rules = [
  ['buffers', /memset|memmove|memcpy|malloc|_int_free|cfree|unlink_chunk|calloc|Allocator::Allocate|BackingStore|ArrayBuffer|managed_buffer|rwlock/],
  ['gc', /Scavenge|Sweep|Heap::|Marking|Evacuat|IterateObjectCache|GlobalHandles/],
  [
    'binding',
    /^node::(StreamBase|LibuvStreamWrap|EmitToJS|AsyncWrap|AsyncHooks|InternalCallbackScope|InternalMakeCallback|ReqWrap|WriteWrap|StreamReq|Environment::Run|BaseObject)|non-virtual thunk to node::|^uv__|^pipewrap::|^napi_|^v8impl|node_napi_env|Invoke|Function::Call|Context::(Enter|Exit)|HandleScope|CallDepthScope|SetAligned|Builtins_(JSEntry|CallFunction|JSBuiltinsConstructStub|CallApiCallback)|FunctionCallbackArguments|Object::Has|IsFunction|epoll_pwait|^read$|^readv$|libc_write|^writev$|Factory::CopyJSObject|AllocateRawWith|pthread_(disable|enable)_asynccancel|clock_gettime|EmitTrace|__tls_get_addr/,
  ],
];

const totals = new Map();
let all = 0;
for (const line of report.split('\n')) {
  // "  3.14%   256  libc.so.6   [.] __memset_avx512_unaligned_erms"
  const m = /^\s*[\d.]+%\s+(\d+)\s+(.+?)\s+\[([.k])\]\s+(.*)$/.exec(line);
  if (!m) continue;
  const [, count, dso, space, symbol] = m;
  let category = 'other';
  if (space === 'k' || dso.includes('kernel')) category = 'kernel';
  else if (dso.startsWith('[JIT]') || symbol.startsWith('JS:')) category = 'js';
  else {
    const rule = rules.find(([, re]) => re.test(symbol.trim()));
    if (rule) category = rule[0];
  }
  totals.set(category, (totals.get(category) || 0) + Number(count));
  all += Number(count);
}
for (const [category, n] of [...totals].sort((a, b) => b[1] - a[1])) {
  console.log(`${category.padEnd(8)} ${String(n).padStart(7)}  ${((100 * n) / all).toFixed(1)}%`);
}
console.log(`${'total'.padEnd(8)} ${String(all).padStart(7)}`);
