#!/usr/bin/env bash
# Native memory safety check (documented in the README, run by hand: it takes
# a few minutes). 1) The binding scenarios under memcheck inside Node
# (--jitless keeps V8's JIT out of valgrind's way; V8's own undefined-value
# noise is switched off). 2) The Rust core's tests under memcheck with leak
# checking.
set -euo pipefail
cd "$(dirname "$0")/.."
valgrind --error-exitcode=9 --undef-value-errors=no -q \
  node --jitless --no-deprecation __test__/fixtures/binding-scenarios.js > /dev/null
echo "binding scenarios: memcheck clean"
cargo test --release -p pipewrap-core --no-run 2> /dev/null
for t in target/release/deps/pipewrap_core-* target/release/deps/uds_tokio-* target/release/deps/stream_core-* target/release/deps/stream_fds-*; do
  if [ -f "$t" ] && [ -x "$t" ]; then
    valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite -q "$t" > /dev/null
    echo "$(basename "$t"): memcheck clean"
  fi
done
