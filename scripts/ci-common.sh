# Helpers shared by scripts/ci-arm64.sh and scripts/ci-platforms.sh (sourced,
# not run). Each `need_*` installs what is missing and stops the run with the
# reason when it cannot: a check that cannot run fails, it is never skipped.

die() {
  echo "$CI_NAME: $*" >&2
  exit 1
}

step() {
  echo "== $CI_NAME: $* ($(date -u +%H:%M:%S))"
}

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "needs root (or sudo) to run: $*"
  fi
}

# need_apt CMD-OR-FILE... -- PACKAGE...: installs the packages unless every
# command (or absolute file path) before `--` is already there.
APT_UPDATED=0
need_apt() {
  local have=1 want=()
  while [ "$1" != "--" ]; do
    case "$1" in
      /*) [ -e "$1" ] || have=0 ;;
      *) command -v "$1" >/dev/null || have=0 ;;
    esac
    shift
  done
  shift
  [ "$have" = 1 ] && return 0
  want=("$@")
  command -v apt-get >/dev/null || die "apt-get is not available to install ${want[*]}"
  if [ "$APT_UPDATED" = 0 ]; then
    as_root apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null ||
    die "apt-get install ${want[*]} failed"
}

need_rust_targets() {
  local installed
  installed="$(rustup target list --installed)" || die "rustup is not available"
  for t in "$@"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t" || die "rustup target add $t failed"
  done
}

# zig (from PyPI's ziglang) and cargo-zigbuild (PyPI ships it as a binary
# wheel too: no cargo install, no compile). cargo-zigbuild finds zig through
# `python3 -m ziglang`.
need_zigbuild() {
  if ! command -v cargo-zigbuild >/dev/null || ! python3 -m ziglang version >/dev/null 2>&1; then
    command -v python3 >/dev/null || die "python3 is needed for pip install ziglang cargo-zigbuild"
    python3 -m pip install -q --disable-pip-version-check ziglang cargo-zigbuild ||
      die "pip install ziglang cargo-zigbuild failed"
    hash -r
  fi
  command -v cargo-zigbuild >/dev/null || die "cargo-zigbuild is not on PATH after pip install (pip's bin dir: $(python3 -m site --user-base 2>/dev/null)/bin)"
  python3 -m ziglang version >/dev/null || die "zig (python3 -m ziglang) does not run"
}

# napi build --cross-compile (cargo zigbuild) for one napi target into DIR;
# prints the .node path. A Linux target gets the .2.17 glibc suffix.
napi_zigbuild() {
  local target="$1" dir="$2" zig_target="$1"
  case "$target" in *-linux-gnu) zig_target="$target.2.17" ;; esac
  mkdir -p "$dir"
  node node_modules/@napi-rs/cli/dist/cli.js build --platform --release --cross-compile \
    --target "$zig_target" --output-dir "$dir" --no-js >&2 || die "napi build --target $zig_target failed"
  local built
  built="$(ls "$dir"/pipewrap.*.node 2>/dev/null | head -1)"
  [ -n "$built" ] || die "napi build --target $zig_target left no pipewrap.*.node in $dir"
  echo "$built"
}

llvm_tool() {
  local bin
  bin="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/$1"
  if [ ! -x "$bin" ]; then
    rustup component add llvm-tools >/dev/null 2>&1 || die "rustup component add llvm-tools failed"
  fi
  [ -x "$bin" ] || die "$1 is missing from llvm-tools ($bin)"
  echo "$bin"
}

# The newest GLIBC_x.y symbol version an ELF file needs.
max_glibc() {
  objdump -T "$1" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sort -uV | tail -1
}
