#!/usr/bin/env bash
# CI for the Windows build: toolchain + Wine (idempotent), cross build,
# the Windows suite under Wine's node.exe. Fails with the reason if any step
# cannot run: no silent skip. Called from .ci/run as
#   bash scripts/win/ci.sh
# PIPEWRAP_WIN_NODE22=0 skips the second pass of the suite on node.exe 22.
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s)
stamp() { echo "== ci:win: $1 ($(( $(date +%s) - t0 ))s)"; }

bash scripts/win/setup.sh
stamp "setup done"
node scripts/win/build.js --clippy
stamp "clippy (x86_64-pc-windows-gnu) done"
node scripts/win/build.js
stamp "build done"
# Both Node versions run even if the first fails (more to read per CI run);
# the script fails if either did.
status=0
node scripts/win/test.js || status=1
stamp "suite on node.exe 20 done"
if [ "${PIPEWRAP_WIN_NODE22:-1}" = "1" ]; then
  node scripts/win/test.js --node 22 || status=1
  stamp "suite on node.exe 22 done"
fi
[ "$status" = 0 ] || echo "ci:win: the Windows suite failed (see above)" >&2
exit "$status"
