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
#   lib/            the shared libraries the binaries reach through ELF NEEDED, the loader and libgcc_s
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
# Not needed by the four binaries, and they pull in perl.
readonly EXCLUDE_RE='^(postgresql-client-common|postgresql-common|sensible-utils|perl|perl-base|perl-modules-[0-9.]+|libperl[0-9.]+|debconf|debconf-2\.0|cdebconf)$'
read -r -a SUITES <<<"${PGTOOLS_SUITES:-testing unstable}"

script_dir=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(CDPATH='' cd -P -- "$script_dir/.." && pwd -P)

log() { printf 'pgtools: %s\n' "$*"; }
warn() { printf 'pgtools: warning: %s\n' "$*" >&2; }
die() {
  printf 'pgtools: error: %s\n' "$1" >&2
  shift
  local line
  for line in "$@"; do printf 'pgtools:   %s\n' "$line" >&2; done
  exit 1
}

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

host_arch() {
  case $(uname -m) in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "unsupported host architecture $(uname -m); pass --arch x64 or --arch arm64" ;;
  esac
}

case ${arch_arg:-host} in
  host) ARCHES=("$(host_arch)") ;;
  x64 | arm64) ARCHES=("$arch_arg") ;;
  all) ARCHES=(x64 arm64) ;;
  *) die "unknown --arch '$arch_arg' (expected x64, arm64 or all)" ;;
esac

mkdir -p -- "$out_base" || die "cannot create output directory $out_base"
out_base=$(CDPATH='' cd -P -- "$out_base" && pwd -P)

# Per-arch facts. e_machine names are what readelf -h prints.
arch_facts() {
  case $1 in
    x64) DEB_ARCH=amd64 TRIPLET=x86_64-linux-gnu LOADER=ld-linux-x86-64.so.2 ELF_MACHINE='Advanced Micro Devices X86-64' ;;
    arm64) DEB_ARCH=arm64 TRIPLET=aarch64-linux-gnu LOADER=ld-linux-aarch64.so.1 ELF_MACHINE='AArch64' ;;
  esac
}

# ------------------------------------------------------------------------------------------ cache check
json_string_field() { sed -n "s/^ *\"$2\": *\"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n1; }

bundle_is_complete() {
  local dir=$1 loader=$2 tool
  [[ -f $dir/bundle.json ]] || return 1
  grep -Eq "^ *\"pgMajor\": *$PG_MAJOR *,?\$" "$dir/bundle.json" || return 1
  [[ -x $dir/lib/$loader ]] || return 1
  for tool in "${TOOLS[@]}"; do
    [[ -x $dir/bin/$tool && -f $dir/libexec/$tool ]] || return 1
  done
}

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

for cmd in apt-get apt-cache dpkg-deb; do
  command -v "$cmd" >/dev/null 2>&1 || die "$cmd not found: this script needs a Debian-based host (apt and dpkg)"
done
ensure_tool readelf binutils
ensure_tool zip zip
ensure_tool tar tar

# ----------------------------------------------------------------------------------------------- mirror
# Prints "URI<TAB>signed-by" of the first enabled deb source that serves the host's release (e.g. bookworm),
# from one-line (.list) or deb822 (.sources) files.
find_system_mirror() {
  local codename="" files=() f
  if [[ -r /etc/os-release ]]; then
    # shellcheck source=/dev/null
    codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
  fi
  [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  ((${#files[@]})) || return 1
  local entries
  entries=$(
    for f in "${files[@]}"; do
      if [[ $f == *.sources ]]; then
        # deb822: stanzas separated by blank lines; continuation lines start with a space.
        awk '
          function flush() {
            if (uris != "" && types ~ /(^| )deb( |$)/ && tolower(enabled) != "no") {
              n = split(uris, u, " ")
              for (i = 1; i <= n; i++) print u[i] "\t" suites "\t" signedby
            }
            types = ""; uris = ""; suites = ""; enabled = ""; signedby = ""
          }
          /^#/ { next }
          /^[ \t]*$/ { flush(); next }
          /^[ \t]/ { next }
          {
            key = tolower($1); sub(/:$/, "", key)
            val = $0; sub(/^[^:]*:[ \t]*/, "", val); gsub(/[ \t]+/, " ", val)
            if (key == "types") types = val
            else if (key == "uris") uris = val
            else if (key == "suites") suites = val
            else if (key == "enabled") enabled = val
            else if (key == "signed-by" && val ~ /^\//) signedby = val
          }
          END { flush() }
        ' "$f"
      else
        awk '
          { sub(/#.*/, "") }
          $1 != "deb" { next }
          {
            i = 2; signedby = ""
            if ($i ~ /^\[/) {
              opts = ""
              for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
              if (match(opts, /signed-by=[^ \]]+/)) signedby = substr(opts, RSTART + 10, RLENGTH - 10)
            }
            uri = $i; suites = $(i + 1)
            print uri "\t" suites "\t" signedby
          }
        ' "$f"
      fi
    done
  )
  local uri suites signedby s
  # Prefer the entry that carries the host release itself (not -security / -updates).
  while IFS=$'\t' read -r uri suites signedby; do
    [[ -n $uri && -n $codename ]] || continue
    for s in $suites; do
      if [[ $s == "$codename" ]]; then
        printf '%s\t%s\n' "${uri%/}" "$signedby"
        return 0
      fi
    done
  done <<<"$entries"
  while IFS=$'\t' read -r uri suites signedby; do
    if [[ $uri =~ ^https?://[^/]+(/.*)?/debian/?$ ]]; then
      printf '%s\t%s\n' "${uri%/}" "$signedby"
      return 0
    fi
  done <<<"$entries"
  return 1
}

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

# Writes a private apt configuration for one suite and Debian architecture; prints its directory.
setup_private_apt() {
  local suite=$1 debarch=$2
  local root="$APT_BASE/$suite-$debarch"
  mkdir -p -- "$root"/{etc/apt.conf.d,etc/sources.list.d,etc/preferences.d,etc/trusted.gpg.d,state/lists/partial,cache/archives/partial,log,debs}
  [[ -f $root/state/status ]] || : >"$root/state/status"
  printf 'deb [arch=%s signed-by=%s] %s %s main\n' "$debarch" "$KEYRING" "$MIRROR" "$suite" >"$root/etc/sources.list"
  {
    # APT_CONFIG is read first, so these replace the system's apt.conf, apt.conf.d, sources and state.
    printf 'Dir::Etc::Main "/dev/null";\n'
    printf 'Dir::Etc::Parts "%s";\n' "$root/etc/apt.conf.d"
    printf 'Dir::Etc::SourceList "%s";\n' "$root/etc/sources.list"
    printf 'Dir::Etc::SourceParts "%s";\n' "$root/etc/sources.list.d"
    printf 'Dir::Etc::Preferences "%s";\n' "$root/etc/preferences"
    printf 'Dir::Etc::PreferencesParts "%s";\n' "$root/etc/preferences.d"
    printf 'Dir::Etc::Trusted "%s";\n' "$root/etc/trusted.gpg"
    printf 'Dir::Etc::TrustedParts "%s";\n' "$root/etc/trusted.gpg.d"
    printf 'Dir::State "%s";\n' "$root/state"
    printf 'Dir::State::Lists "%s";\n' "$root/state/lists"
    printf 'Dir::State::status "%s";\n' "$root/state/status"
    printf 'Dir::Cache "%s";\n' "$root/cache"
    printf 'Dir::Cache::archives "%s";\n' "$root/cache/archives"
    printf 'Dir::Log "%s";\n' "$root/log"
    printf 'APT::Architecture "%s";\n' "$debarch"
    printf 'APT::Architectures { "%s"; };\n' "$debarch"
    # The mirror's Release files for testing/unstable can be weeks old; signatures are still checked.
    printf 'Acquire::Check-Valid-Until "false";\n'
    printf 'Acquire::Languages "none";\n'
    printf 'Acquire::GzipIndexes "true";\n'
    [[ -n $sys_http_proxy ]] && printf 'Acquire::http::Proxy "%s";\n' "$sys_http_proxy"
    [[ -n $sys_https_proxy ]] && printf 'Acquire::https::Proxy "%s";\n' "$sys_https_proxy"
    true
  } >"$root/etc/apt.conf"
  # apt drops to _apt while downloading; let it write where apt-get download puts the files.
  if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then
    chown _apt "$root/debs" 2>/dev/null || true
  fi
  printf '%s\n' "$root"
}

papt() { local root=$1; shift; APT_CONFIG="$root/etc/apt.conf" "$@"; }

# Chooses the first suite that has the client for this arch. Sets SUITE, SUITE_CODENAME, APT_ROOT.
choose_suite() {
  local debarch=$1 suite root out majors failures=() unreachable=0
  for suite in "${SUITES[@]}"; do
    root=$(setup_private_apt "$suite" "$debarch")
    log "$debarch: updating private package index for $suite from $MIRROR"
    if ! out=$(papt "$root" apt-get -q -o APT::Update::Error-Mode=any update 2>&1); then
      printf '%s\n' "$out" | tail -n 8 >&2
      failures+=("$suite: could not download the package index from $MIRROR (output above)")
      unreachable=$((unreachable + 1))
      continue
    fi
    if ! compgen -G "$root/state/lists/*_dists_${suite}_main_binary-${debarch}_Packages*" >/dev/null; then
      failures+=("$suite: apt-get update left no package index for main/$debarch")
      continue
    fi
    if [[ -n $(papt "$root" apt-cache show --no-all-versions "$CLIENT_PKG" 2>/dev/null | sed -n 's/^Version: //p') ]]; then
      SUITE=$suite
      SUITE_CODENAME=$(sed -n 's/^Codename: //p' "$root"/state/lists/*_dists_"${suite}"_InRelease 2>/dev/null | head -n1)
      APT_ROOT=$root
      return 0
    fi
    majors=$(papt "$root" apt-cache pkgnames postgresql-client- 2>/dev/null | grep -E '^postgresql-client-[0-9]+$' | sort -V | tr '\n' ' ')
    majors=${majors% }
    failures+=("$suite: $CLIENT_PKG is not in $suite/main for $debarch (it has: ${majors:-no postgresql-client-NN})")
  done
  if ((unreachable == ${#SUITES[@]})); then
    die "cannot download the Debian package index for $debarch from $MIRROR" "${failures[@]}" \
      "check network access to the mirror (it comes from the system's apt sources; override with PGTOOLS_DEBIAN_MIRROR)"
  fi
  die "$CLIENT_PKG for $debarch is not available in any of: ${SUITES[*]}" "${failures[@]}" \
    "if Debian has moved on to a newer PostgreSQL major, set PGTOOLS_SUITES or update PG_MAJOR in this script"
}

# Prints the dependency closure of the client package, one name a line: Depends and Pre-Depends, first
# alternative of each group, a provider for virtual packages, excluded packages left out.
dependency_closure() {
  local root=$1
  local -A seen=()
  local queue=("$CLIENT_PKG") next deps dep
  seen[$CLIENT_PKG]=1
  while ((${#queue[@]})); do
    deps=$(papt "$root" apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances "${queue[@]}" 2>&1) ||
      die "apt-cache depends failed for: ${queue[*]}" "$deps"
    next=()
    while read -r dep; do
      dep=${dep%%:*}
      [[ -n $dep && -z ${seen[$dep]:-} ]] || continue
      seen[$dep]=1
      if [[ $dep =~ $EXCLUDE_RE ]]; then
        continue
      fi
      next+=("$dep")
    done < <(awk '
      /^[^ ]/ { grouped = 0; virtual = 0; next }
      /^ [ |](Pre)?Depends: / {
        alt = (substr($0, 2, 1) == "|")
        if (grouped) { grouped = alt; virtual = 0; next }
        grouped = alt
        if ($2 ~ /^</) { virtual = 1; next }
        virtual = 0; print $2; next
      }
      /^    [^ ]/ { if (virtual) { print $1; virtual = 0 } next }
    ' <<<"$deps")
    printf '%s\n' "${queue[@]}"
    queue=("${next[@]}")
  done
}

# Resolves PATH (absolute, inside ROOT) through symlinks without leaving ROOT; prints the resolved path
# (absolute, inside ROOT).
resolve_in_root() {
  local root=$1 path=$2 n=0 target
  while [[ -L $root$path ]]; do
    ((++n <= 40)) || return 1
    target=$(readlink -- "$root$path")
    if [[ $target == /* ]]; then path=$target; else path=${path%/*}/$target; fi
  done
  [[ -f $root$path ]] || return 1
  local real
  real=$(realpath -e -- "$root$path") || return 1
  [[ $real == "$root"/* ]] || return 1
  printf '%s\n' "${real#"$root"}"
}

elf_needed() { readelf -d -W -- "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
elf_interp() { readelf -l -W -- "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p'; }
elf_machine() { readelf -h -W -- "$1" | sed -n 's/^ *Machine: *//p'; }
elf_paths() { readelf -d -W -- "$1" | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\]$/\1 \2/p'; }

human() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }

json_escape() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '%s' "$s"
}

write_wrapper() {
  local file=$1 tool=$2 loader=$3
  cat >"$file" <<EOF
#!/bin/sh
# $tool from the self-contained PostgreSQL $PG_MAJOR client bundle (generated by scripts/build-pgtools.sh).
# Runs libexec/$tool through the bundled dynamic loader, without ld.so.cache and with the bundle's lib/ (which
# holds every library the binaries need) searched first, so no library of the host is loaded. Uses only sh
# builtins: minimal hosts may lack dirname/readlink, and the environment may be empty (env -i).
unset LD_PRELOAD LD_LIBRARY_PATH LD_AUDIT
self=\$0
# A symlink to this wrapper (e.g. /usr/local/bin/$tool) must lead back to the bundle.
while [ -h "\$self" ]; do
  if ! link=\$(readlink -- "\$self" 2>/dev/null); then
    echo "$tool: cannot resolve symlink \$self (no readlink); run the bundle's bin/$tool directly" >&2
    exit 127
  fi
  case \$link in
    /*) self=\$link ;;
    *) case \$self in */*) self=\${self%/*}/\$link ;; *) self=\$link ;; esac ;;
  esac
done
case \$self in
  */*) bindir=\${self%/*} ;;
  *) bindir=. ;;
esac
dir=\$(CDPATH='' cd -P -- "\${bindir:-/}/.." && pwd -P) || exit 127
# --argv0: pg_dumpall looks for pg_dump next to its own argv[0].
exec "\$dir/lib/$loader" --inhibit-cache --library-path "\$dir/lib" --argv0 "\$0" "\$dir/libexec/$tool" "\$@"
EOF
  chmod 0755 "$file"
}

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

  local interp
  interp=$(elf_interp "$bundle/libexec/pg_dump")
  [[ ${interp##*/} == "$LOADER" ]] || die "pg_dump asks for loader '$interp', expected $LOADER"

  local libdirs=("/usr/lib/$TRIPLET" "/lib/$TRIPLET" /usr/lib64 /lib64 /usr/lib /lib "/usr/lib/postgresql/$PG_MAJOR/lib")
  find_lib() {
    local lib=$1 d
    for d in "${libdirs[@]}"; do
      if [[ -e $root$d/$lib || -L $root$d/$lib ]]; then
        resolve_in_root "$root" "$d/$lib" && return 0
      fi
    done
    return 1
  }
  copy_lib() {
    local lib=$1 needed_by=$2 real
    [[ -n ${copied[$lib]:-} ]] && return 0
    real=$(find_lib "$lib") ||
      die "library $lib (needed by $needed_by) is not in the unpacked packages" \
        "packages: ${pkgs[*]}" \
        "the dependency closure is incomplete or a package was excluded wrongly (EXCLUDE_RE in $0)"
    if [[ $lib == "$LOADER" ]]; then
      install -m 0755 "$root$real" "$bundle/lib/$lib"
    else
      install -m 0644 "$root$real" "$bundle/lib/$lib"
    fi
    copied[$lib]=1
    shipped_pkgs[${owner[$real]:-unknown}]=1
    queue+=("$bundle/lib/$lib")
  }

  copy_lib "$LOADER" "the bundle (dynamic loader)"
  # glibc dlopens libgcc_s for thread cancellation and backtraces.
  copy_lib libgcc_s.so.1 "glibc (dlopen)"
  local file needed
  while ((${#queue[@]})); do
    file=${queue[0]}
    queue=("${queue[@]:1}")
    [[ $(elf_machine "$file") == "$ELF_MACHINE" ]] ||
      die "$file is $(elf_machine "$file"), expected $ELF_MACHINE"
    if [[ -n $(elf_paths "$file") ]]; then
      warn "${file#"$bundle"/} has $(elf_paths "$file" | tr '\n' ' ')(searched before --library-path for RPATH)"
    fi
    while IFS= read -r needed; do
      [[ -n $needed ]] && copy_lib "$needed" "${file#"$bundle"/}"
    done < <(elf_needed "$file")
  done
  [[ -z ${shipped_pkgs[unknown]:-} ]] || die "a copied library has no owning package (internal error)"

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

  # bundle.json
  local built_at files_json="" packages_json="" unshipped_json="" unpacked=0 size first=1
  built_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  while IFS=$'\t' read -r path size; do
    files_json+="$([[ $first == 1 ]] || printf ',')"$'\n'"    \"$(json_escape "$path")\": $size"
    first=0
    unpacked=$((unpacked + size))
  done < <(cd "$bundle" && find . -type f -printf '%P\t%s\n' | LC_ALL=C sort)
  first=1
  for pkg in $(printf '%s\n' "${!shipped_pkgs[@]}" | LC_ALL=C sort); do
    packages_json+="$([[ $first == 1 ]] || printf ',')"$'\n'"    { \"name\": \"$(json_escape "$pkg")\", \"version\": \"$(json_escape "${version[$pkg]}")\" }"
    first=0
  done
  first=1
  for pkg in $(printf '%s\n' "${!version[@]}" | LC_ALL=C sort); do
    [[ -n ${shipped_pkgs[$pkg]:-} ]] && continue
    unshipped_json+="$([[ $first == 1 ]] || printf ',')"$'\n'"    { \"name\": \"$(json_escape "$pkg")\", \"version\": \"$(json_escape "${version[$pkg]}")\" }"
    first=0
  done
  local tools_json
  tools_json=$(printf '"%s", ' "${TOOLS[@]}")
  cat >"$bundle/bundle.json" <<EOF
{
  "pgMajor": $PG_MAJOR,
  "pgVersion": "$pg_version",
  "pgDebianVersion": "$(json_escape "$pg_debian_version")",
  "arch": "$arch",
  "debianArch": "$DEB_ARCH",
  "suite": "$(json_escape "${SUITE_CODENAME:-$SUITE}")",
  "suiteAlias": "$(json_escape "$SUITE")",
  "mirror": "$(json_escape "$MIRROR")",
  "builtAt": "$built_at",
  "tools": [${tools_json%, }],
  "loader": "lib/$LOADER",
  "unpackedBytes": $unpacked,
  "packages": [$packages_json
  ],
  "packagesNotShipped": [$unshipped_json
  ],
  "files": {$files_json
  }
}
EOF

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
