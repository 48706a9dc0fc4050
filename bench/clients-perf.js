'use strict';
// Where the client process's CPU goes, from `perf record -g` of a
// bench/clients-worker.js run (node --perf-prof
// --interpreted-frames-native-stack, perf record -k mono, perf inject
// --jit): used by
// `node bench/clients.js --perf DIR`, or standalone:
//   node bench/clients-perf.js DIR   (the table again from a --perf DIR)
//
// Only the samples of the client's pid inside its timed window [t0, t1]
// count. Each sample goes to the first frame, from the leaf up, that
// belongs to a category; kernel, libc, N-API, V8 builtins/runtime calls and
// node:events frames are transparent (they count for whoever called them),
// so a write(2) counts for the socket layer that issued it and an 'data'
// emit for the code emitting it.
//
// Categories:
//   client      the client library's JS (pg*, ioredis, undici and its wasm
//               HTTP parser, workerpool, their deps) and the workload's
//               own loop
//   socket-js   the socket layer's JS: pipewrap lib/*.js; node:net,
//               stream_base_commons, child_process (the IPC channel)
//   streams     node:stream (Readable/Writable/Duplex, which both socket
//               layers are built on)
//   socket-native the socket layer's native code: pipewrap's addon; Node's
//               StreamBase/LibuvStreamWrap/PipeWrap and libuv's stream code
//               (with the syscalls they make)
//   loop        libuv's loop itself (uv_run, epoll) and timers
//   gc          V8's garbage collector (any thread)
//   runtime     other node: internals (task queues, promise machinery,
//               timers, immediates…), shared by the client and the socket
//               layer; the bound's loosest form counts all of it as socket
//   jit         V8's parsers and compilers (any thread)
//   other       everything not attributable (e.g. libc without a caller)
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const CLIENT_JS = /\/node_modules\/(pg|pg-[a-z-]+|postgres-[a-z-]+|pgpass|split2|ioredis|@ioredis|denque|standard-as-callback|redis-errors|cluster-key-slot|workerpool|undici|debug|ms)\/|clients-worker\.js|clients-pool-task\.js/;
// WebAssembly in these workloads is undici's HTTP parser (llhttp built to
// wasm); its frames carry no file name, so they are named here.
const CLIENT_WASM = /^JS:(wasm-function|wasm-to-js|js-to-wasm)/;
const PIPEWRAP_JS = /\/lib\/(net|stream-state|binding|errors|ipc[a-z-]*|fork|index)\.js/;
const NODE_SOCKET_JS = /node:(net|internal\/stream_base_commons|internal\/net|child_process|internal\/child_process)/;
const STREAMS_JS = /node:(stream|internal\/streams\/)/;
const TRANSPARENT_JS = /node:events|node:internal\/events/;
const NODE_SOCKET_NATIVE = /^(uv__(read|write|stream|try_write|server_io|poll_io|io_feed|drain|udp)|uv_(write|try_write|read_start|read_stop|shutdown|pipe|accept|poll)|node::Environment::(allocate|release)_managed_buffer|node::(StreamBase|LibuvStreamWrap|PipeWrap|StreamReq|WriteWrap|ShutdownWrap|ConnectionWrap|EmitToJSStreamListener|CustomBufferJSListener|StreamResource|StreamListener|ReportWritesToJSStreamListener|LibuvStreamWrap|AllocatedBuffer|ConnectWrap|SimpleWriteWrap|SimpleShutdownWrap|WriteWrap))/;
const LOOP = /^(uv_run|uv__io_poll|uv__run_timers|uv__hrtime|uv_update_time|uv__epoll|epoll_wait|epoll_pwait|uv__platform|node::SpinEventLoop|node::PerIsolatePlatformData)/;
const JIT = /v8::internal::(compiler::|Compiler|OptimizingCompile|Parser|PreParser|ParserBase|Scanner|Deserializer|Snapshot|maglev|baseline|interpreter::Bytecode|AstValueFactory|Zone)/;
const PROMISES = /^(Builtins_(RunMicrotasks|PromiseFulfillReactionJob|PromiseRejectReactionJob|AsyncFunction|PromiseResolve|ResolvePromise|PerformPromiseThen|PromiseConstructor|PromisePrototypeThen|EnqueueMicrotask|FulfillPromise|RejectPromise|NewPromiseCapability|PromiseCapabilityDefaultResolve)|v8::internal::MicrotaskQueue)/;
const GC = /(v8::internal::(Heap|Scavenge|MarkCompact|MinorMarkCompact|Sweeper|Marking|ConcurrentMarking|Evacuat|IncrementalMarking|ArrayBufferSweeper|GCTracer|MemoryAllocator|PagedSpace|NewSpace|SemiSpace|ObjectVisitor|MainMarkingVisitor|ConcurrentMarkingVisitor|YoungGenerationMarking|RememberedSet|SlotSet|LocalHeap|Safepoint)|Scavenger|MarkingVisitor|GCTracer)/;

const SOCKET_SYSCALL = /^(__GI___)?(__)?(libc_)?(write|writev|read|readv|recvmsg|sendmsg|send|recv|recvfrom|sendto|connect|accept4?|shutdown|ioctl|close)$/;
const LOOP_SYSCALL = /^(epoll_pwait|epoll_wait|epoll_ctl|__GI_epoll_pwait)$/;

function classify(frames) {
  // frames: [{ sym, dso }], leaf first.
  for (const { sym, dso } of frames) {
    if (/^(JS|LazyCompile|Function|Script|Eval):/.test(sym)) {
      if (CLIENT_JS.test(sym) || CLIENT_WASM.test(sym)) return 'client';
      if (PIPEWRAP_JS.test(sym)) return 'socket-js';
      if (NODE_SOCKET_JS.test(sym)) return 'socket-js';
      if (STREAMS_JS.test(sym)) return 'streams';
      if (TRANSPARENT_JS.test(sym)) continue;
      if (/node:/.test(sym)) return 'runtime';
      continue;
    }
    if (/pipewrap[^/]*\.node/.test(dso)) return 'socket-native';
    if (/libc\.so|libc-/.test(dso) && frames[frames.length - 1].sym === sym) {
      // The chain ends in libc (frame-pointer unwinding stops there): the
      // syscall wrapper says what it was.
      if (SOCKET_SYSCALL.test(sym)) return 'socket-native';
      if (LOOP_SYSCALL.test(sym)) return 'loop';
    }
    if (/kernel|vdso|libc\.so|libc-|ld-linux|libpthread|libstdc\+\+|libm\.so/.test(dso)) continue;
    if (sym === '[unknown]') continue;
    if (NODE_SOCKET_NATIVE.test(sym)) return 'socket-native';
    if (LOOP.test(sym)) return 'loop';
    if (GC.test(sym)) return 'gc';
    if (JIT.test(sym)) return 'jit';
    if (PROMISES.test(sym)) return 'runtime';
    // Calls between JS and native (N-API, V8's API and runtime, builtins,
    // callback scopes) count for whoever is on either side of them.
    if (/^(napi_|v8impl|v8::|Builtins_|Builtin:|Stub:|BytecodeHandler:|RegExp:|node::(InternalCallbackScope|CallbackScope|MakeCallback|InternalMakeCallback|AsyncWrap::MakeCallback|AsyncWrap::Emit|Environment::RunWeakRefCleanup|Buffer|binding|StringBytes|Utf8Value|BufferValue))/.test(sym)) continue;
    if (/^(node::|uv_|uv__|cppgc)/.test(sym)) return 'runtime';
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
  // PWC_PERF_DEBUG=<category>: print that category's commonest stacks.
  const debugCat = process.env.PWC_PERF_DEBUG;
  const debug = new Map();
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
    if (debugCat === cat) {
      const key = frames.slice(0, 8).map((f) => `${f.sym.slice(0, 60)}`).join(' < ');
      debug.set(key, (debug.get(key) || 0) + 1);
    }
    samples++;
    byCategory[cat] = (byCategory[cat] || 0) + 1;
    if (frames.length && /kernel/.test(frames[0].dso)) kernelByCategory[cat] = (kernelByCategory[cat] || 0) + 1;
  }
  if (debugCat) {
    console.error(`${dataFile}: top '${debugCat}' stacks`);
    for (const [k, v] of [...debug].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.error(`${v}\t${k}`);
  }
  return { samples, byCategory, kernelByCategory };
}

const CATEGORIES = ['client', 'socket-js', 'streams', 'socket-native', 'loop', 'gc', 'jit', 'runtime', 'other'];
const SOCKET = ['socket-js', 'streams', 'socket-native'];
const fmt = (x) => (x >= 100 ? x.toFixed(1) : x.toFixed(2));

// Prints the table for runs [{ workload, impl, file, res }] (res: the
// worker's JSON line) and writes DIR/summary.json.
function report(runs, dir) {
  console.log('\nshare of the client process\'s CPU samples in its timed window (perf -g, leaf-first attribution, bench/clients-perf.js);');
  console.log('socket = socket-js + streams + socket-native, kernel = the part of it in the kernel (its syscalls);');
  console.log('bound = 1/(1 - Node\'s socket share): all of it free; user bound: only its user-space part free;');
  console.log('user + runtime bound: that and all of node\'s other internals free (the loosest)\n');
  console.log(`| workload | impl | samples | CPU µs/op | ${CATEGORIES.join(' | ')} | socket | of which kernel | bound | user bound | user + runtime bound |`);
  console.log(`|---|---|---:|---:|${CATEGORIES.map(() => '---:').join('|')}|---:|---:|---:|---:|---:|`);
  const rows = [];
  for (const { workload, impl, file, res } of runs) {
    const c = categorize(file, res.pid, res.t0, res.t1);
    const pct = (k) => (100 * (c.byCategory[k] || 0)) / c.samples;
    const socket = SOCKET.reduce((a, k) => a + pct(k), 0);
    const kernel = SOCKET.reduce((a, k) => a + (100 * (c.kernelByCategory[k] || 0)) / c.samples, 0);
    const isNode = impl === 'node';
    const bound = isNode ? `${(1 / (1 - socket / 100)).toFixed(2)}×` : '';
    const userBound = isNode ? `${(1 / (1 - (socket - kernel) / 100)).toFixed(2)}×` : '';
    const looseBound = isNode ? `${(1 / (1 - (socket - kernel + pct('runtime')) / 100)).toFixed(2)}×` : '';
    const cpu = res.cpuUs / res.ops;
    rows.push({ workload, impl, cpu, wall: res.wallNs / 1000 / res.ops, socket, kernel, ...c });
    console.log(`| ${workload} | ${impl} | ${c.samples} | ${fmt(cpu)} | ${CATEGORIES.map((k) => `${pct(k).toFixed(1)}%`).join(' | ')} | ` +
      `${socket.toFixed(1)}% | ${kernel.toFixed(1)}% | ${bound} | ${userBound} | ${looseBound} |`);
  }
  console.log('\nthe same in CPU µs per op (share × CPU µs/op); socket user = socket minus its kernel part\n');
  console.log(`| workload | impl | CPU µs/op | ${CATEGORIES.join(' | ')} | socket | socket user | socket kernel |`);
  console.log(`|---|---|---:|${CATEGORIES.map(() => '---:').join('|')}|---:|---:|---:|`);
  for (const r of rows) {
    const us = (k) => (r.cpu * (r.byCategory[k] || 0)) / r.samples;
    console.log(`| ${r.workload} | ${r.impl} | ${fmt(r.cpu)} | ${CATEGORIES.map((k) => fmt(us(k))).join(' | ')} | ` +
      `${fmt((r.cpu * r.socket) / 100)} | ${fmt((r.cpu * (r.socket - r.kernel)) / 100)} | ${fmt((r.cpu * r.kernel) / 100)} |`);
  }
  if (dir) fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(rows, null, 2));
  return rows;
}

module.exports = { categorize, classify, report };

if (require.main === module) {
  // node bench/clients-perf.js DIR: the table again from DIR's perf.data
  // files and the worker results saved next to them.
  const dir = process.argv[2];
  const runs = fs.readdirSync(dir).filter((f) => f.endsWith('.data')).sort().map((f) => {
    const res = JSON.parse(fs.readFileSync(path.join(dir, f.replace(/\.data$/, '.json')), 'utf8'));
    return { workload: res.workload, impl: res.impl, file: path.join(dir, f), res };
  });
  report(runs, dir);
}
