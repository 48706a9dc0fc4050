#!/usr/bin/env bash
# `npm run check:platforms` (CI runs it from .ci/run): builds every prebuilt
# binary this Linux x64 machine can make, and checks what can be checked here
# without the target machine.
#
# - Linux x64 and arm64, linked by cargo-zigbuild against glibc 2.17: no
#   symbol version newer than GLIBC_2.17 (objdump -T), so the binaries load
#   on RHEL/CentOS 7 and later, Debian 8+, Ubuntu 14.04+, Amazon Linux 2.
#   The x64 one is then loaded and used by this machine's node; the arm64
#   one runs its tests under qemu in scripts/ci-arm64.sh.
# - macOS x64 (10.13+) and arm64 (11.0+): clippy of the core crate (lib and
#   tests) and of the addon for both targets, then a link with zig (no SDK:
#   napi-build links with -undefined dynamic_lookup). Each dylib must be the
#   right Mach-O arch and minimum OS, link only /usr/lib libraries, and leave
#   undefined only libSystem symbols and napi_*/uv_* (node provides those at
#   load time). Nothing here can run a Mac binary.
# - all four platform packages packed (scripts/pack.js), each tarball holding
#   its package.json, README.md and its own binary; the x64 one installed
#   with the main tarball in a scratch project and used.
#
# Binaries and tarballs go to ${PIPEWRAP_DIST:-dist}/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
CI_NAME=check:platforms
. scripts/ci-common.sh

dist="$(realpath -m "${PIPEWRAP_DIST:-dist}")"
bins="$dist/binaries"
export CARGO_TERM_COLOR=never

step "tools"
command -v objdump >/dev/null || need_apt objdump -- binutils
need_rust_targets aarch64-unknown-linux-gnu x86_64-apple-darwin aarch64-apple-darwin
need_zigbuild
nm="$(llvm_tool llvm-nm)"
objdump_llvm="$(llvm_tool llvm-objdump)"
[ -d node_modules/@napi-rs/cli ] || die "node_modules/@napi-rs/cli is missing: run npm install first"

step "clippy for macOS (core: lib and tests; addon: lib)"
for t in x86_64-apple-darwin aarch64-apple-darwin; do
  # The core's examples are Linux benchmarks (epoll), so lib and tests only.
  cargo clippy --release -p pipewrap-core --lib --tests --target "$t" -- -D warnings ||
    die "clippy of pipewrap-core for $t failed"
  cargo clippy --release -p pipewrap --lib --target "$t" -- -D warnings ||
    die "clippy of the addon for $t failed"
done

step "build: Linux x64 and arm64 against glibc 2.17"
rm -rf "$bins"
x64="$(napi_zigbuild x86_64-unknown-linux-gnu "$bins/linux-x64-gnu")"
arm64="$(napi_zigbuild aarch64-unknown-linux-gnu "$bins/linux-arm64-gnu")"

step "build: macOS x64 (10.13) and arm64 (11.0), linked by zig"
darwin_x64="$(MACOSX_DEPLOYMENT_TARGET=10.13 napi_zigbuild x86_64-apple-darwin "$bins/darwin-x64")"
darwin_arm64="$(MACOSX_DEPLOYMENT_TARGET=11.0 napi_zigbuild aarch64-apple-darwin "$bins/darwin-arm64")"

step "check: ELF machine and glibc symbol versions"
check_elf() {
  local f="$1" machine="$2" max
  readelf -h "$f" | grep -q "Machine:.*$machine" || die "$f is not $machine: $(readelf -h "$f" | grep Machine)"
  max="$(max_glibc "$f")"
  [ -n "$max" ] || die "$f: no GLIBC symbol versions found (objdump -T)"
  # sort -V puts the larger version last.
  [ "$(printf '%s\n' "$max" GLIBC_2.17 | sort -V | tail -1)" = GLIBC_2.17 ] ||
    die "$f needs $max (newer than GLIBC_2.17): $(objdump -T "$f" | grep -E "$max" | head -5)"
  echo "$(basename "$f"): $machine, newest symbol version $max"
}
check_elf "$x64" "X86-64"
check_elf "$arm64" "AArch64"

step "check: Mach-O arch, minimum macOS, libraries, undefined symbols"
check_macho() {
  local f="$1" arch="$2" minos="$3" header libs undef bad
  header="$("$objdump_llvm" --macho --private-headers "$f")" || die "$f is not a Mach-O file"
  [ "$(awk '$1 == "MH_MAGIC_64" { print $2, $5 }' <<<"$header")" = "$arch DYLIB" ] ||
    die "$f is not a 64-bit $arch dylib: $(grep MH_MAGIC <<<"$header")"
  # LC_VERSION_MIN_MACOSX (version) for 10.13 on x64, LC_BUILD_VERSION (minos) on arm64.
  grep -Eq "^ *(minos|version) $minos\$" <<<"$header" ||
    die "$f: minimum macOS is not $minos: $(grep -E '^ *(minos|version) ' <<<"$header")"
  libs="$("$objdump_llvm" --macho --dylibs-used "$f" | tail -n +2 | awk '{print $1}')"
  # Besides its own install name, only system libraries.
  libs="$(grep -v '/libpipewrap\.dylib$' <<<"$libs")"
  bad="$(grep -v '^/usr/lib/' <<<"$libs" || true)"
  [ -z "$bad" ] || die "$f links libraries outside /usr/lib: $bad"
  undef="$("$nm" -m -u "$f")"
  bad="$(grep -v '(from libSystem)' <<<"$undef" | grep -vE ' _(napi|uv)_[a-z0-9_]+$' | grep -v '^$' || true)"
  [ -z "$bad" ] || die "$f: undefined symbols neither in libSystem nor napi_*/uv_*: $bad"
  grep -qE ' _napi_create_function$' <<<"$undef" ||
    die "$f: no napi_* imports: is it really the addon?"
  echo "$(basename "$f"): $arch, macOS $minos+, $(grep -c '(from libSystem)' <<<"$undef") libSystem and $(grep -cE ' _(napi|uv)_' <<<"$undef") napi_*/uv_* imports, libraries: $(tr '\n' ' ' <<<"$libs")"
}
check_macho "$darwin_x64" X86_64 10.13
check_macho "$darwin_arm64" ARM64 11.0

step "pack: the four platform packages and the main package"
rm -rf "$dist/packs"
packed="$(node scripts/pack.js --out "$dist/packs" --binaries "$bins" \
  --platform linux-x64-gnu --platform linux-arm64-gnu --platform darwin-x64 --platform darwin-arm64)" ||
  die "scripts/pack.js failed"
packed="$(tail -1 <<<"$packed")"
for triple in linux-x64-gnu linux-arm64-gnu darwin-x64 darwin-arm64; do
  tgz="$(node -e 'console.log(JSON.parse(process.argv[1]).platforms[process.argv[2]])' "$packed" "$triple")"
  [ -f "$tgz" ] || die "no tarball for $triple"
  got="$(tar tzf "$tgz" | sort | tr '\n' ' ')"
  want="package/README.md package/package.json package/pipewrap.$triple.node "
  [ "$got" = "$want" ] || die "$tgz holds: $got (want: $want)"
  tar xzf "$tgz" -O "package/pipewrap.$triple.node" | cmp -s - "$bins/$triple/pipewrap.$triple.node" ||
    die "$tgz does not carry the binary built for $triple"
  echo "$(basename "$tgz"): $got"
done

step "use: the glibc-2.17 x64 package installed next to the main package"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
main_tgz="$(node -e 'console.log(JSON.parse(process.argv[1]).main)' "$packed")"
x64_tgz="$(node -e 'console.log(JSON.parse(process.argv[1]).platforms["linux-x64-gnu"])' "$packed")"
(cd "$scratch" && npm init -y >/dev/null && npm install --ignore-scripts --no-audit --no-fund "$x64_tgz" "$main_tgz" >/dev/null) ||
  die "npm install of the packed x64 and main tarballs failed"
cat >"$scratch/echo.js" <<'EOF'
const fs = require('fs'), os = require('os'), path = require('path');
const pw = require('pipewrap');
const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pwp-'));
const server = pw.createServer((c) => c.pipe(c)).listen(path.join(dir, 's'), () => {
  const c = pw.connect(path.join(dir, 's'), () => c.end('echo'));
  c.on('data', (d) => console.log(`${d} via ${path.relative(process.cwd(), loaded)}`));
  c.on('close', () => { server.close(); fs.rmSync(dir, { recursive: true }); });
});
EOF
out="$(cd "$scratch" && node echo.js)" || die "the packed x64 binary did not load or echo"
grep -q "^echo via node_modules/pipewrap-linux-x64-gnu/pipewrap.linux-x64-gnu.node$" <<<"$out" ||
  die "unexpected echo through the packed x64 binary: $out"
echo "$out"
step "done"
