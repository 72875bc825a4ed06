# shellcheck shell=bash
# Sourced by scripts/build-pgtools.sh (which sets the constants and globals named below); not run on its own.
# Logging, architecture facts, the cache check and host tools. Uses PG_MAJOR and TOOLS.

log() { printf 'pgtools: %s\n' "$*"; }
warn() { printf 'pgtools: warning: %s\n' "$*" >&2; }
die() {
  printf 'pgtools: error: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf 'pgtools:   %s\n' "$line" >&2; done
  exit 1
}

host_arch() {
  case $(uname -m) in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "unsupported host architecture $(uname -m); pass --arch x64 or --arch arm64" ;;
  esac
}

# Per-arch facts. e_machine names are what readelf -h prints.
arch_facts() {
  case $1 in
    x64) DEB_ARCH=amd64 TRIPLET=x86_64-linux-gnu LOADER=ld-linux-x86-64.so.2 ELF_MACHINE='Advanced Micro Devices X86-64' ;;
    arm64) DEB_ARCH=arm64 TRIPLET=aarch64-linux-gnu LOADER=ld-linux-aarch64.so.1 ELF_MACHINE='AArch64' ;;
  esac
}

json_string_field() { sed -n "s/^ *\"$2\": *\"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n1; }

bundle_is_complete() {
  local dir=$1 loader=$2 tool
  [[ -f $dir/bundle.json ]] || return 1
  grep -Eq "^ *\"pgMajor\": *$PG_MAJOR *,?\$" "$dir/bundle.json" || return 1
  [[ -x $dir/lib/$loader ]] || return 1
  [[ -f $dir/lib/libstdbuf.so ]] || return 1
  for tool in "${TOOLS[@]}"; do
    [[ -x $dir/bin/$tool && -f $dir/libexec/$tool ]] || return 1
  done
}

ensure_tool() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [[ $(id -u) -ne 0 ]]; then
    die "$cmd is missing and this is not root" "install it: sudo apt-get install $pkg"
  fi
  log "$cmd is missing, installing $pkg from the system's apt sources"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >&2; then
    apt-get update -q >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >&2 ||
      die "could not install $pkg (needed for $cmd)" "install it yourself: apt-get install $pkg"
  fi
  command -v "$cmd" >/dev/null 2>&1 || die "$pkg was installed but $cmd is still missing"
}

human() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }

