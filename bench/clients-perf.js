'use strict';
// Where the client process's CPU goes, from `perf record -g` of a
// bench/clients-worker.js run (node --perf-basic-prof
// --interpreted-frames-native-stack, perf record -k mono): used by
// `node bench/clients.js --perf DIR`, or standalone:
//   node bench/clients-perf.js perf.data <pid> <t0 ns> <t1 ns>
//
// Only the samples of the client's pid inside its timed window [t0, t1]
// count. Each sample goes to the first frame, from the leaf up, that
// belongs to a category; kernel, libc, N-API, V8 builtins/runtime calls and
// node:events frames are transparent (they count for whoever called them),
// so a write(2) counts for the socket layer that issued it and an 'data'
// emit for the code emitting it.
//
// Categories:
//   client      the client library's JS (pg*, ioredis, workerpool, their
//               deps) and the workload's own loop
//   socket-js   the socket layer's JS: pipewrap lib/*.js; node:net,
//               stream_base_commons, child_process (the IPC channel)
//   streams     node:stream (Readable/Writable/Duplex, which both socket
//               layers are built on)
//   socket-native the socket layer's native code: pipewrap's addon; Node's
//               StreamBase/LibuvStreamWrap/PipeWrap and libuv's stream code
//               (with the syscalls they make)
//   loop        libuv's loop itself (uv_run, epoll) and timers
//   gc          V8's garbage collector (any thread)
//   runtime     other node: internals (task queues, promises' hooks, timers…)
//   other       V8 compiler and everything not attributable
const { execFileSync } = require('node:child_process');

const CLIENT_JS = /\/node_modules\/(pg|pg-[a-z-]+|postgres-[a-z-]+|pgpass|split2|ioredis|@ioredis|denque|standard-as-callback|redis-errors|cluster-key-slot|workerpool|debug|ms)\/|clients-worker\.js|clients-pool-task\.js/;
const PIPEWRAP_JS = /\/lib\/(net|stream-state|binding|errors|ipc[a-z-]*|fork|index)\.js/;
const NODE_SOCKET_JS = /node:(net|internal\/stream_base_commons|internal\/net|child_process|internal\/child_process)/;
const STREAMS_JS = /node:(stream|internal\/streams\/)/;
const TRANSPARENT_JS = /node:events|node:internal\/events/;
const NODE_SOCKET_NATIVE = /^(uv__(read|write|stream|try_write|server_io|poll_io|io_feed|drain|udp)|uv_(write|try_write|read_start|read_stop|shutdown|pipe|accept|poll)|node::(StreamBase|LibuvStreamWrap|PipeWrap|StreamReq|WriteWrap|ShutdownWrap|ConnectionWrap|EmitToJSStreamListener|CustomBufferJSListener|StreamResource|StreamListener|ReportWritesToJSStreamListener|LibuvStreamWrap|AllocatedBuffer|ConnectWrap|SimpleWriteWrap|SimpleShutdownWrap|WriteWrap))/;
const LOOP = /^(uv_run|uv__io_poll|uv__run_timers|uv__hrtime|uv_update_time|uv__epoll|epoll_wait|epoll_pwait|uv__platform|node::SpinEventLoop|node::PerIsolatePlatformData)/;
const GC = /(v8::internal::(Heap|Scavenge|MarkCompact|MinorMarkCompact|Sweeper|Marking|ConcurrentMarking|Evacuat|IncrementalMarking|ArrayBufferSweeper|GCTracer|MemoryAllocator|PagedSpace|NewSpace|SemiSpace|ObjectVisitor|MainMarkingVisitor|ConcurrentMarkingVisitor|YoungGenerationMarking|RememberedSet|SlotSet|LocalHeap|Safepoint)|Scavenger|MarkingVisitor|GCTracer)/;

function classify(frames) {
  // frames: [{ sym, dso }], leaf first.
  for (const { sym, dso } of frames) {
    if (sym.startsWith('JS:') || sym.startsWith('LazyCompile:') || sym.startsWith('Function:') || sym.startsWith('Script:')) {
      if (CLIENT_JS.test(sym)) return 'client';
      if (PIPEWRAP_JS.test(sym)) return 'socket-js';
      if (NODE_SOCKET_JS.test(sym)) return 'socket-js';
      if (STREAMS_JS.test(sym)) return 'streams';
      if (TRANSPARENT_JS.test(sym)) continue;
      if (/node:/.test(sym)) return 'runtime';
      continue;
    }
    if (/pipewrap[^/]*\.node/.test(dso)) return 'socket-native';
    if (/kernel|vdso|libc\.so|libc-|ld-linux|libpthread|libstdc\+\+|libm\.so/.test(dso)) continue;
    if (sym === '[unknown]') continue;
    if (NODE_SOCKET_NATIVE.test(sym)) return 'socket-native';
    if (LOOP.test(sym)) return 'loop';
    if (GC.test(sym)) return 'gc';
    if (/^(napi_|v8impl|Builtins_|Builtin:|Stub:|BytecodeHandler:|RegExp:|Bytecode|v8::internal::Runtime_|v8::internal::Builtin_|v8::Function::Call|v8::internal::Execution|v8::internal::(anonymous namespace)::Invoke|node::InternalCallbackScope|node::CallbackScope|node::MakeCallback|node::InternalMakeCallback|node::AsyncWrap::MakeCallback|v8::internal::Factory|v8::internal::Isolate::|v8::ArrayBuffer|v8::Uint8Array|v8::internal::JSArrayBuffer|node::Buffer|node::binding|v8::internal::FactoryBase)/.test(sym)) continue;
    if (/^(v8::|node::|cppgc|uv_|uv__)/.test(sym)) return 'other';
    continue;
  }
  return 'other';
}

// Returns { samples, byCategory: { cat: n }, kernelBySocket: n }.
function categorize(dataFile, pid, t0, t1) {
  const out = execFileSync('perf', ['script', '-i', dataFile, '--ns', '-F', 'pid,tid,time,ip,sym,dso'], {
    encoding: 'utf8',
    maxBuffer: 2 ** 31 - 1,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const from = Number(t0) / 1e9;
  const to = Number(t1) / 1e9;
  const byCategory = {};
  const kernelByCategory = {};
  let samples = 0;
  const blocks = out.split('\n\n');
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l.length);
    if (!lines.length) continue;
    const head = lines[0].match(/^\s*(\d+)\/(\d+)\s+([\d.]+):/);
    if (!head || Number(head[1]) !== Number(pid)) continue;
    const time = Number(head[3]);
    if (time < from || time > to) continue;
    const frames = [];
    for (const l of lines.slice(1)) {
      const m = l.match(/^\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$/);
      if (m) frames.push({ sym: m[1].replace(/\+0x[0-9a-f]+$/, ''), dso: m[2] });
    }
    const cat = classify(frames);
    samples++;
    byCategory[cat] = (byCategory[cat] || 0) + 1;
    if (frames.length && /kernel/.test(frames[0].dso)) kernelByCategory[cat] = (kernelByCategory[cat] || 0) + 1;
  }
  return { samples, byCategory, kernelByCategory };
}

module.exports = { categorize, classify };

if (require.main === module) {
  const [file, pid, t0, t1] = process.argv.slice(2);
  console.log(JSON.stringify(categorize(file, pid, t0, t1), null, 2));
}
