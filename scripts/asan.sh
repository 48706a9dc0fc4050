#!/usr/bin/env bash
# The JS suite against an AddressSanitizer build of the addon (run by hand:
# `npm run test:asan`; needs a nightly Rust toolchain and GCC's libasan).
# The addon is built with -Zsanitizer=address into a separate target dir and
# loaded through the generated loader's NAPI_RS_NATIVE_LIBRARY_PATH; Node
# itself is not instrumented, so libasan is preloaded and leak checking is
# off (Node keeps memory until exit on purpose).
set -euo pipefail
cd "$(dirname "$0")/.."
libasan="$(gcc -print-file-name=libasan.so)"
if ! cargo +nightly --version > /dev/null 2>&1 || [ ! -e "$libasan" ]; then
  echo "test:asan needs a nightly toolchain (rustup toolchain install nightly) and GCC's libasan" >&2
  exit 1
fi
target="${ASAN_TARGET_DIR:-${TMPDIR:-/tmp}/pipewrap-asan-target}"
RUSTFLAGS="-Zsanitizer=address -Cunsafe-allow-abi-mismatch=sanitizer" CARGO_TARGET_DIR="$target" \
  cargo +nightly build --release -p pipewrap --target x86_64-unknown-linux-gnu
lib="$target/x86_64-unknown-linux-gnu/release/libpipewrap.node"
cp "$target/x86_64-unknown-linux-gnu/release/libpipewrap.so" "$lib"
export ASAN_OPTIONS="detect_leaks=0:verify_asan_link_order=0:abort_on_error=1"
export LD_PRELOAD="$libasan"
export NAPI_RS_NATIVE_LIBRARY_PATH="$lib"
# Left out, as meaningless under ASan: the install test (the loader override
# makes every install "have a binary"), RSS growth checks (ASan's quarantine
# holds freed memory), curl and the jest/ava projects (third-party programs
# that would run with libasan preloaded too).
skip=(--match '!install without Rust*' --match '!*churn: 30k*' --match '!*curl --unix-socket*'
  --match '!*inside jest and ava projects*')
node node_modules/ava/entrypoints/cli.mjs "${skip[@]}" "$@"
node node_modules/ava/entrypoints/cli.mjs --config ava.process.config.mjs "${skip[@]}" "$@"
