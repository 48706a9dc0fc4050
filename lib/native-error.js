'use strict';
// The one readable error for a machine where pipewrap's native binary is
// missing: which platform package was expected, and the two ways out.

// The platforms with a prebuilt binary, each in the optional package
// pipewrap-<triple> (npm/<triple>/ in the repository). __test__/
// install-prebuilt.test.js checks this list against npm/, package.json's
// optionalDependencies and napi.targets.
const PREBUILT = ['linux-x64-gnu', 'linux-arm64-gnu', 'darwin-x64', 'darwin-arm64', 'win32-x64-gnu'];

function platformTriple() {
  let libc = 'gnu';
  if (process.platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
    if (report && report.header && !report.header.glibcVersionRuntime) libc = 'musl';
  }
  // Linux names its libc; Windows' binary names its toolchain (GNU, built
  // with MinGW; it loads in the MSVC-built node.exe: N-API is one C ABI).
  const suffix = process.platform === 'linux' ? `-${libc}` : process.platform === 'win32' ? '-gnu' : '';
  return { triple: `${process.platform}-${process.arch}${suffix}`, libc };
}

function nativeMissingMessage() {
  const { triple, libc } = platformTriple();
  const pkg = `pipewrap-${triple}`;
  const which = PREBUILT.includes(triple)
    ? `Its prebuilt binary comes in the optional package ${pkg}, which is not installed here ` +
      `(installs with --omit=optional or --no-optional, or a lockfile made on another platform, leave it out): ` +
      `reinstall pipewrap with optional dependencies, or add ${pkg} next to it.`
    : `There is no prebuilt binary for ${triple}: pipewrap ships them for Linux x64 and arm64 with glibc, ` +
      `for macOS x64 and arm64, and for Windows x64` +
      (libc === 'musl' ? ' (musl systems such as Alpine are not supported yet).' : '.');
  return (
    `pipewrap could not load its native binary for ${triple}. ${which} ` +
    `To build it from source instead, install Rust (cargo) and run ` +
    `\`npm rebuild pipewrap --build-from-source\` (or set PIPEWRAP_BUILD_FROM_SOURCE=1 and reinstall).`
  );
}

function nativeMissingError(cause) {
  const err = new Error(nativeMissingMessage(), { cause });
  err.code = 'ERR_PIPEWRAP_NATIVE_MISSING';
  return err;
}

module.exports = { PREBUILT, nativeMissingMessage, nativeMissingError, platformTriple };
