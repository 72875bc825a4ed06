#!/usr/bin/env bash
# Builds a self-contained PostgreSQL 18 client (pg_dump, pg_restore, pg_dumpall, psql) from Debian
# packages. The bundle carries its own glibc and dynamic loader because pg_dump refuses servers newer than
# itself (RDS runs 13-18) and Lambda's Amazon Linux 2023 has glibc 2.34 while Debian's PG 18 client needs a
# newer one. See DEVELOPERS.md and the README section on the bundle.
#
# Usage: scripts/build-pgtools.sh [--arch x64|arm64|all] [--out DIR] [--force]
#
# Layout of <out>/linux-<arch>/:
#   bin/<tool>      POSIX sh wrapper: runs libexec/<tool> through lib/<loader> with lib/ as library path
#   libexec/<tool>  the ELF binaries from postgresql-client-18
#   lib/            the shared libraries the binaries reach through ELF NEEDED, the loader and libgcc_s, and
#                   libstdbuf.so (coreutils), preloaded into a tool only when the caller sets _STDBUF_O
#   share/doc/      the Debian copyright files of the packages that contributed files
#   bundle.json     versions, suite, package list, file sizes
#
# Newer Debian suites are used only through a private apt configuration under <repo>/.cache/apt; the system's
# apt sources are read (to find the mirror) but never changed.
#
# Environment overrides (all optional):
#   PGTOOLS_DEBIAN_MIRROR  Debian archive URL instead of the one found in the system's apt sources
#   PGTOOLS_SUITES         suites to try, in order (default: "testing unstable", i.e. forky then sid)
set -euo pipefail

readonly PG_MAJOR=18
readonly CLIENT_PKG="postgresql-client-$PG_MAJOR"
readonly TOOLS=(pg_dump pg_restore pg_dumpall psql)
# coreutils: only its libstdbuf.so is shipped (lib/), for the wrappers' _STDBUF_O (scripts/pgtools/elf.sh).
readonly EXTRA_PKGS=(coreutils)
readonly STDBUF_LIB=/usr/libexec/coreutils/libstdbuf.so
# Not needed by the four binaries, and they pull in perl.
readonly EXCLUDE_RE='^(postgresql-client-common|postgresql-common|sensible-utils|perl|perl-base|perl-modules-[0-9.]+|libperl[0-9.]+|debconf|debconf-2\.0|cdebconf)$'
read -r -a SUITES <<<"${PGTOOLS_SUITES:-testing unstable}"

script_dir=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(CDPATH='' cd -P -- "$script_dir/.." && pwd -P)

# shellcheck source=scripts/pgtools/common.sh
. "$script_dir/pgtools/common.sh"
# shellcheck source=scripts/pgtools/apt.sh
. "$script_dir/pgtools/apt.sh"
# shellcheck source=scripts/pgtools/elf.sh
. "$script_dir/pgtools/elf.sh"

usage() {
  cat <<EOF
Usage: scripts/build-pgtools.sh [--arch x64|arm64|all] [--out DIR] [--force]

Builds a self-contained PostgreSQL $PG_MAJOR client (${TOOLS[*]}) from Debian packages into
DIR/linux-<arch> (default DIR: $repo_root/.cache/pgtools). An existing complete bundle is kept unless --force.
EOF
}

# ---------------------------------------------------------------------------------------------- arguments
arch_arg=""
out_base="$repo_root/.cache/pgtools"
force=0
while (($#)); do
  case $1 in
    --arch) (($# >= 2)) || die "--arch needs a value (x64, arm64 or all)"; arch_arg=$2; shift 2 ;;
    --arch=*) arch_arg=${1#*=}; shift ;;
    --out) (($# >= 2)) || die "--out needs a directory"; out_base=$2; shift 2 ;;
    --out=*) out_base=${1#*=}; shift ;;
    --force) force=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

case ${arch_arg:-host} in
  host) ARCHES=("$(host_arch)") ;;
  x64 | arm64) ARCHES=("$arch_arg") ;;
  all) ARCHES=(x64 arm64) ;;
  *) die "unknown --arch '$arch_arg' (expected x64, arm64 or all)" ;;
esac

mkdir -p -- "$out_base" || die "cannot create output directory $out_base"
out_base=$(CDPATH='' cd -P -- "$out_base" && pwd -P)

# ------------------------------------------------------------------------------------------ cache check
TODO=()
for arch in "${ARCHES[@]}"; do
  arch_facts "$arch"
  if ((force == 0)) && bundle_is_complete "$out_base/linux-$arch" "$LOADER"; then
    log "cached $out_base/linux-$arch ($(json_string_field "$out_base/linux-$arch/bundle.json" pgVersion))"
  else
    TODO+=("$arch")
  fi
done
((${#TODO[@]})) || exit 0

# ------------------------------------------------------------------------------------------------ tools
for cmd in apt-get apt-cache dpkg-deb; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found: this script needs a Debian-based host (apt and dpkg)"
done
ensure_tool readelf binutils
ensure_tool zip zip
ensure_tool tar tar

# ----------------------------------------------------------------------------------------------- mirror
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
if [[ -n ${PGTOOLS_DEBIAN_MIRROR:-} ]]; then
  MIRROR=${PGTOOLS_DEBIAN_MIRROR%/}
else
  mirror_line=$(find_system_mirror) ||
    die "no Debian archive mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/" \
      "set PGTOOLS_DEBIAN_MIRROR, e.g. PGTOOLS_DEBIAN_MIRROR=http://deb.debian.org/debian"
  MIRROR=${mirror_line%%$'\t'*}
  system_keyring=${mirror_line#*$'\t'}
  # The system entry's keyring normally is the full Debian archive keyring; a release-specific one would not
  # verify testing/unstable, so only use it when it is the archive keyring under another path.
  if [[ -n $system_keyring && -f $system_keyring && $(basename -- "$system_keyring") == debian-archive-keyring.gpg ]]; then
    KEYRING=$system_keyring
  fi
fi
[[ -f $KEYRING ]] ||
  die "Debian archive keyring $KEYRING not found (needed to verify the private apt sources)" \
    "install it: apt-get install debian-archive-keyring"

# ------------------------------------------------------------------------------------- private apt setup
APT_BASE="$repo_root/.cache/apt"
mkdir -p -- "$APT_BASE"

# One lock for the apt cache and the output: npm test may start several builds at once.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$APT_BASE/.lock"
  flock 9
  # Holding the lock, any build directory left next to the output is from an interrupted run.
  rm -rf -- "$out_base"/.linux-*.build.*
fi

# Proxy settings of the system apt config still apply to the private one (the rest of it does not).
sys_http_proxy="" sys_https_proxy=""
eval "$(apt-config shell sys_http_proxy Acquire::http::Proxy sys_https_proxy Acquire::https::Proxy 2>/dev/null || true)"

# ------------------------------------------------------------------------------------------------ build
build_arch() {
  local arch=$1
  arch_facts "$arch"
  local final="$out_base/linux-$arch"
  local started=$SECONDS

  # Another build may have finished it while this one waited for the lock.
  if ((force == 0)) && bundle_is_complete "$final" "$LOADER"; then
    log "cached $final ($(json_string_field "$final/bundle.json" pgVersion))"
    return 0
  fi

  choose_suite "$DEB_ARCH"
  log "$arch: using $SUITE${SUITE_CODENAME:+ ($SUITE_CODENAME)} for $CLIENT_PKG"

  local work
  work=$(mktemp -d "$out_base/.linux-$arch.build.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf -- '$work'" EXIT
  local root="$work/root" bundle="$work/bundle" debs="$APT_ROOT/debs"
  mkdir -p "$root" "$bundle"/{bin,libexec,lib,share/doc}

  local pkgs=()
  dependency_closure "$APT_ROOT" >"$work/closure" || exit 1
  mapfile -t pkgs <"$work/closure"
  log "$arch: dependency closure: ${#pkgs[@]} packages"

  # apt-get download keeps files that are already there with the right hash; the file names tell which
  # .debs belong to this build, older ones are removed.
  local out deb_files=()
  out=$(papt "$APT_ROOT" apt-get -q download --print-uris "${pkgs[@]}" 2>&1) ||
    die "apt-get download --print-uris failed for $DEB_ARCH ($SUITE)" "$out"
  mapfile -t deb_files < <(awk '{ print $2 }' <<<"$out")
  ((${#deb_files[@]} == ${#pkgs[@]})) || die "apt names ${#deb_files[@]} files for ${#pkgs[@]} packages" "$out"
  if ! out=$(cd "$debs" && papt "$APT_ROOT" apt-get -q download "${pkgs[@]}" 2>&1); then
    printf '%s\n' "$out" | tail -n 10 >&2
    die "apt-get download failed for $DEB_ARCH from $MIRROR ($SUITE)" \
      "check network access to the mirror; rerun to retry"
  fi
  local deb keep
  for deb in "$debs"/*.deb; do
    keep=0
    for name in "${deb_files[@]}"; do [[ ${deb##*/} == "$name" ]] && keep=1 && break; done
    ((keep)) || rm -f -- "$deb"
  done

  # Unpack everything into one staging root and remember which package owns which path.
  local -A owner=() version=()
  local name ver path
  for deb in "${deb_files[@]/#/$debs/}"; do
    [[ -f $deb ]] || die "$deb is missing after apt-get download"
    name=$(dpkg-deb -f "$deb" Package)
    ver=$(dpkg-deb -f "$deb" Version)
    version[$name]=$ver
    dpkg-deb -x "$deb" "$root" || die "cannot unpack $deb"
    while IFS= read -r path; do
      path=${path#.}
      [[ -n $path && $path != */ ]] && owner[$path]=$name
    done < <(dpkg-deb --fsys-tarfile "$deb" | tar -t)
  done
  [[ -n ${version[$CLIENT_PKG]:-} ]] || die "$CLIENT_PKG was not downloaded (packages: ${pkgs[*]})"

  local pg_debian_version=${version[$CLIENT_PKG]}
  local pg_version=${pg_debian_version#*:}
  pg_version=${pg_version%%-*}
  pg_version=${pg_version%%+*}
  [[ $pg_version == "$PG_MAJOR".* || $pg_version == "$PG_MAJOR" ]] ||
    die "$CLIENT_PKG has version $pg_debian_version, expected $PG_MAJOR.x"

  # Binaries, then every library their NEEDED entries reach, recursively.
  local -A shipped_pkgs=() copied=()
  local tool src real
  local queue=()
  for tool in "${TOOLS[@]}"; do
    src="/usr/lib/postgresql/$PG_MAJOR/bin/$tool"
    real=$(resolve_in_root "$root" "$src") ||
      die "$src is not in $CLIENT_PKG $pg_debian_version ($SUITE/$DEB_ARCH)" "the package layout changed; adjust this script"
    install -m 0755 "$root$real" "$bundle/libexec/$tool"
    shipped_pkgs[${owner[$real]:-$CLIENT_PKG}]=1
    queue+=("$bundle/libexec/$tool")
  done

  # libstdbuf.so goes through the same NEEDED closure and ELF-machine check as the binaries.
  real=$(resolve_in_root "$root" "$STDBUF_LIB") ||
    die "$STDBUF_LIB is not in coreutils ${version[coreutils]:-?} ($SUITE/$DEB_ARCH)" "the package layout changed; adjust this script"
  install -m 0644 "$root$real" "$bundle/lib/libstdbuf.so"
  shipped_pkgs[${owner[$real]:-coreutils}]=1
  queue+=("$bundle/lib/libstdbuf.so")

  local interp
  interp=$(elf_interp "$bundle/libexec/pg_dump")
  [[ ${interp##*/} == "$LOADER" ]] || die "pg_dump asks for loader '$interp', expected $LOADER"

  copy_elf_closure

  for tool in "${TOOLS[@]}"; do
    write_wrapper "$bundle/bin/$tool" "$tool" "$LOADER"
  done

  # Licences: each shipped package's Debian copyright file (doc dirs can be symlinks to another package's).
  local pkg copyright
  for pkg in $(printf '%s\n' "${!shipped_pkgs[@]}" | sort); do
    copyright=$(resolve_in_root "$root" "/usr/share/doc/$pkg/copyright") ||
      die "no copyright file for $pkg in its package" "cannot ship $pkg without its licence"
    mkdir -p "$bundle/share/doc/$pkg"
    install -m 0644 "$root$copyright" "$bundle/share/doc/$pkg/copyright"
  done
  # Debian copyright files refer to licence texts in /usr/share/common-licenses (from base-files, which is
  # not in the closure); ship the referenced ones from the host so the bundle carries the full texts.
  local lic
  while IFS= read -r lic; do
    if [[ -f $lic ]]; then
      mkdir -p "$bundle/share/doc/common-licenses"
      install -m 0644 "$lic" "$bundle/share/doc/common-licenses/${lic##*/}"
    else
      warn "$lic (referenced by a shipped copyright file) is not on this host; not shipped"
    fi
  done < <(grep -ohE '/usr/share/common-licenses/[A-Za-z0-9.+_-]*[A-Za-z0-9+]' "$bundle"/share/doc/*/copyright | sort -u)

  # Check before publishing: the host arch runs; a foreign arch is at least the right kind of ELF.
  local got
  if [[ $arch == "$(host_arch)" ]]; then
    for tool in "${TOOLS[@]}"; do
      got=$(env -i "$bundle/bin/$tool" --version 2>&1) ||
        die "the built $tool does not run: $got"
      [[ $got == "$tool (PostgreSQL) $pg_version"* ]] ||
        die "the built $tool reports '$got', expected $tool (PostgreSQL) $pg_version"
    done
    log "$arch: checked: $(env -i "$bundle/bin/pg_dump" --version)"
  else
    log "$arch: checked ELF machine ($ELF_MACHINE) of all binaries and libraries; not executed on this $(uname -m) host"
  fi

  # bundle.json, written by node (a JSON serialiser) from the values gathered here.
  local pkg_list="$work/packages.tsv" unpacked node_bin="$repo_root/node_modules/.bin/node"
  [[ -x $node_bin ]] || node_bin=node
  for pkg in $(printf '%s\n' "${!version[@]}" | LC_ALL=C sort); do
    if [[ -n ${shipped_pkgs[$pkg]:-} ]]; then
      printf 'shipped\t%s\t%s\n' "$pkg" "${version[$pkg]}"
    else
      printf 'unshipped\t%s\t%s\n' "$pkg" "${version[$pkg]}"
    fi
  done >"$pkg_list"
  unpacked=$("$node_bin" "$script_dir/pgtools/bundle-json.ts" --bundle "$bundle" --packages "$pkg_list" \
    --tools "${TOOLS[*]}" --loader "lib/$LOADER" \
    --set "pgMajor=$PG_MAJOR" --set "pgVersion=$pg_version" --set "pgDebianVersion=$pg_debian_version" \
    --set "arch=$arch" --set "debianArch=$DEB_ARCH" --set "suite=${SUITE_CODENAME:-$SUITE}" --set "suiteAlias=$SUITE" \
    --set "mirror=$MIRROR" --set "builtAt=$(date -u +%Y-%m-%dT%H:%M:%SZ)") ||
    die "writing bundle.json failed (node $script_dir/pgtools/bundle-json.ts)"

  # Size as a zip (what a Lambda layer would hold).
  local zipfile="$work/size.zip" zipped
  (cd "$bundle" && zip -9 -r -q -X "$zipfile" .) || die "zip of the bundle failed"
  zipped=$(stat -c %s "$zipfile")

  # Publish: the output is replaced by a complete bundle or left as it was.
  if [[ -e $final ]]; then
    mv -- "$final" "$work/previous"
  fi
  mv -- "$bundle" "$final"
  rm -rf -- "$work"
  trap - EXIT

  log "$arch: built $final: PostgreSQL $pg_version ($pg_debian_version) from $SUITE${SUITE_CODENAME:+ ($SUITE_CODENAME)}, ${#copied[@]} libraries, ${#shipped_pkgs[@]} packages"
  log "$arch: size unpacked $(human "$unpacked") ($unpacked bytes), zip -9 $(human "$zipped") ($zipped bytes), $((SECONDS - started)) s"
}

for arch in "${TODO[@]}"; do
  build_arch "$arch"
done
