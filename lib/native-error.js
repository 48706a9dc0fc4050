'use strict';
// The one readable error for a machine where pipewrap's native binary is
// missing: which platform package was expected, and the two ways out.

function platformTriple() {
  let libc = 'gnu';
  if (process.platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
    if (report && report.header && !report.header.glibcVersionRuntime) libc = 'musl';
  }
  return { triple: `${process.platform}-${process.arch}${process.platform === 'linux' ? `-${libc}` : ''}`, libc };
}

function nativeMissingMessage() {
  const { triple, libc } = platformTriple();
  const supported = triple === 'linux-x64-gnu';
  const which = supported
    ? `Its prebuilt binary comes in the optional package pipewrap-linux-x64-gnu, which is not installed here ` +
      `(installs with --omit=optional or --no-optional, or a lockfile made on another platform, leave it out): ` +
      `reinstall pipewrap with optional dependencies, or add pipewrap-linux-x64-gnu next to it.`
    : `There is no prebuilt binary for ${triple}: pipewrap ships one for Linux x64 with glibc only` +
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

module.exports = { nativeMissingMessage, nativeMissingError, platformTriple };
