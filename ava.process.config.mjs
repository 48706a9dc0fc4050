// ava config for the test files that need a process of their own
// (workerThreads: false: one child process per file). Every other
// __test__/*.test.js file runs in a worker thread with ava.config.mjs, which
// excludes exactly these; `npm test` runs that config, then this one, and
// __test__/ava-sets.js fails if a test file is in neither set or in both.
//
// - beyond-node.test.js: process.umask(0) around a listen() (the mode test);
//   umask(mask) throws ERR_WORKER_UNSUPPORTED_OPERATION in a worker, and the
//   mask is process-wide anyway.
// - binding-misuse.test.js: process.umask(0o077) around a bind() (the
//   fchmod test), for the same reasons.
// - binding-writes.test.js: counts this process's write syscalls in
//   /proc/self/io (writes coalesce into few writev calls); other files
//   writing to sockets in the same process would make it flaky.
// - hardening-ipc.test.js: compares this process's fd table
//   (/proc/self/fd) before and after every attack; fds opened or closed by
//   other files running in the same process would make it flaky.
// - ipc-handles.test.js: when its worker exits, Node's environment cleanup
//   closes a stream handle whose fd is already closed (close() -> EBADF
//   under strace, after 'openChannel child -> Node parent: pipewrap Server
//   arrives as net.Server'). In a shared process that fd number may by then
//   belong to another worker: a run aborted in another worker's
//   readFileSync (uv_fs_close assertion) before this file moved here.
// - stream-core.test.js: gives one fd to two handles on purpose (open(fd) of
//   an fd another handle holds, listen({ fd }), new Socket({ fd })), as libuv
//   allows; both close it, and the second close() could hit an fd another
//   file just opened in the same process. (Those tests are test.serial so
//   they cannot hit this file's own fds either.)
export const processFiles = [
  '__test__/beyond-node.test.js',
  '__test__/binding-misuse.test.js',
  '__test__/binding-writes.test.js',
  '__test__/hardening-ipc.test.js',
  '__test__/ipc-handles.test.js',
  '__test__/stream-core.test.js',
];

// The same options as ava.config.mjs (__test__/ava-sets.js checks that they
// match), except workerThreads.
export default {
  files: processFiles,
  workerThreads: false,
  concurrency: 2,
  timeout: '2m',
  failWithoutAssertions: false,
};
