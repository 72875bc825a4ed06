#!/usr/bin/env bash
# Installs moto (the AWS emulator the integration tests use as their S3/IAM server) without touching the
# system Python: its bookworm dependencies come from the normal apt, python3-moto and the newer boto stack it
# needs come from a newer Debian suite through a private apt configuration and are unpacked with `dpkg -x`
# into <repo>/.cache/moto. Idempotent: a no-op when the stamp matches and `import moto` works.
# See shared/notes/s3-test-server.md for why this combination.
#
# Env: MOTO_SUITE (default trixie: stable, so its versions do not vanish the way sid's do).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE="${MOTO_SUITE:-trixie}"
PY=/usr/bin/python3
DEST="$REPO/.cache/moto"
APTDIR="$REPO/.cache/apt-moto"
SITE="$DEST/usr/lib/python3/dist-packages"
STAMP="$DEST/.installed"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Bump when the recipe changes so an old unpack is redone.
RECIPE=1
WANT_STAMP="recipe=$RECIPE suite=$SUITE"

# From the notes: what moto's server needs that bookworm itself provides at usable versions.
BOOKWORM_DEPS=(python3-flask python3-werkzeug python3-boto3 python3-botocore python3-xmltodict
  python3-responses python3-cryptography python3-jinja2 python3-antlr4 python3-requests python3-dateutil
  python3-yaml python3-flask-cors python3-s3transfer python3-jsondiff python3-multipart python3-pyparsing)
# Taken from $SUITE; their dependencies are added below only when the system cannot satisfy them.
FROM_SUITE=(python3-moto python3-botocore python3-boto3 python3-s3transfer)

say() { echo "install-moto: $*"; }
die() { echo "install-moto: ERROR: $*" >&2; exit 1; }

moto_imports() {
  PYTHONPATH="$SITE" "$PY" -c 'import moto, moto.server, boto3, botocore' >/dev/null 2>&1
}

# Fast path, before taking the lock: nothing to do.
if [[ -f "$STAMP" ]] && [[ "$(head -n1 "$STAMP")" == "$WANT_STAMP" ]] && moto_imports; then
  exit 0
fi

[[ -x "$PY" ]] || die "$PY not found (Debian's python3 is required; the pyenv python3 on PATH cannot see Debian packages)"
{ command -v apt-get >/dev/null && command -v dpkg >/dev/null; } || die "apt-get/dpkg not found: this script needs a Debian host"
[[ -r "$KEYRING" ]] || die "$KEYRING missing (package debian-archive-keyring)"

mkdir -p "$REPO/.cache"
exec 9>"$REPO/.cache/moto.lock"
flock 9
# Another run may have finished while we waited for the lock.
if [[ -f "$STAMP" ]] && [[ "$(head -n1 "$STAMP")" == "$WANT_STAMP" ]] && moto_imports; then
  exit 0
fi

# ---- 1. bookworm dependencies through the system apt, only those missing
installed() { [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]; }
missing=()
for p in "${BOOKWORM_DEPS[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt_install() {
    apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >"$REPO/.cache/moto-apt.log" 2>&1
  }
  # Only refresh the system package lists when installing from the existing ones fails (absent or stale).
  if ! apt_install; then
    say "apt-get update (system lists absent or stale)"
    apt-get update -q -o DPkg::Lock::Timeout=300 >>"$REPO/.cache/moto-apt.log" 2>&1 ||
      die "apt-get update failed; see .cache/moto-apt.log"
    apt_install || die "apt-get install ${missing[*]} failed; see .cache/moto-apt.log"
  fi
fi

# ---- 2. the private apt configuration for $SUITE
# The mirror is the one the system already uses for its own release, so no host is hard-coded here.
system_mirror() {
  local codename f
  # shellcheck source=/dev/null
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  [[ -n "$codename" ]] || return 1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r "$f" ]] || continue
    awk -v want="$codename" '
      /^[[:space:]]*deb[[:space:]]/ {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
        if ($(i + 1) == want) { print $i; exit }
      }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r "$f" ]] || continue
    awk -v want="$codename" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uris = ""; suites = ""; types = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          line = $i
          if (line ~ /^#/) continue
          k = tolower(line); sub(/:.*/, "", k)
          v = line; sub(/^[^:]*:[[:space:]]*/, "", v)
          if (k == "uris") uris = v
          else if (k == "suites") suites = " " v " "
          else if (k == "types") types = " " v " "
          else if (k == "enabled") enabled = tolower(v)
        }
        if (enabled != "no" && types ~ / deb / && suites ~ (" " want " ")) { split(uris, u, /[[:space:]]+/); print u[1]; exit }
      }' "$f"
  done
}
MIRROR="$(system_mirror | head -n1)"
MIRROR="${MIRROR%/}"
[[ -n "$MIRROR" ]] || die "could not find the Debian mirror in the system apt sources (/etc/apt/sources.list{,.d})"

mkdir -p "$APTDIR"/{etc/sources.list.d,etc/preferences.d,lists/partial,cache/archives/partial,debs}
: >"$APTDIR/status"
echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main" >"$APTDIR/etc/sources.list"
APT_OPTS=(
  -o "Dir::Etc::SourceList=$APTDIR/etc/sources.list"
  -o "Dir::Etc::SourceParts=$APTDIR/etc/sources.list.d"
  -o "Dir::Etc::Preferences=$APTDIR/etc/preferences"
  -o "Dir::Etc::PreferencesParts=$APTDIR/etc/preferences.d"
  -o "Dir::State::Lists=$APTDIR/lists"
  -o "Dir::Cache=$APTDIR/cache"
  # Docker images set these to "" (no binary cache), which makes every apt-cache call re-parse the index.
  -o "Dir::Cache::pkgcache=$APTDIR/cache/pkgcache.bin"
  -o "Dir::Cache::srcpkgcache=$APTDIR/cache/srcpkgcache.bin"
  -o "Dir::State::status=$APTDIR/status"
  -o "Acquire::Check-Valid-Until=false"
  -o "Acquire::Languages=none"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "APT::Sandbox::User=root"
)
say "fetching the $SUITE package index from $MIRROR (private apt config in .cache/apt-moto)"
apt-get "${APT_OPTS[@]}" -q update >"$APTDIR/update.log" 2>&1 ||
  die "apt-get update for $SUITE failed; see .cache/apt-moto/update.log"

declare -A STANZA=()
suite_field() { # package field -> value from $SUITE's index ('' if absent); one apt-cache call per package
  if [[ -z "${STANZA[$1]+set}" ]]; then
    STANZA[$1]="$(apt-cache "${APT_OPTS[@]}" show --no-all-versions "$1" 2>/dev/null || true)"
  fi
  awk -v f="$2" 'index($0, f ": ") == 1 { sub(/^[^:]*: /, ""); print; exit }' <<<"${STANZA[$1]}"
}

# ---- 3. dependency closure: take from $SUITE only what the installed system does not satisfy
declare -A VERSION=()
queue=("${FROM_SUITE[@]}")
for p in "${FROM_SUITE[@]}"; do
  VERSION[$p]="$(suite_field "$p" Version)"
  [[ -n "${VERSION[$p]}" ]] || die "$p not found in $SUITE"
done

satisfied() { # "name[:any] [(op ver)]"; virtual names (python3-supported-min...) count as unsatisfied
  local spec="$1" name op ver have
  name="$(sed -E 's/^[[:space:]]*([^ :(]+).*/\1/' <<<"$spec")"
  op="$(sed -nE 's/.*\(([<>=]+)[[:space:]]*([^)]+)\).*/\1/p' <<<"$spec")"
  ver="$(sed -nE 's/.*\(([<>=]+)[[:space:]]*([^)]+)\).*/\2/p' <<<"$spec")"
  if [[ -n "${VERSION[$name]:-}" ]]; then
    have="${VERSION[$name]}"
  elif installed "$name"; then
    have="$(dpkg-query -W -f='${Version}' "$name")"
  else
    return 1
  fi
  [[ -z "$op" ]] && return 0
  case "$op" in
    ">=") dpkg --compare-versions "$have" ge "$ver" ;;
    "<=") dpkg --compare-versions "$have" le "$ver" ;;
    ">>") dpkg --compare-versions "$have" gt "$ver" ;;
    "<<") dpkg --compare-versions "$have" lt "$ver" ;;
    "=") dpkg --compare-versions "$have" eq "$ver" ;;
    *) return 1 ;;
  esac
}

while ((${#queue[@]})); do
  pkg="${queue[0]}"
  queue=("${queue[@]:1}")
  deps="$(suite_field "$pkg" Pre-Depends), $(suite_field "$pkg" Depends)"
  IFS=',' read -ra groups <<<"$deps"
  for group in "${groups[@]}"; do
    [[ -n "${group// /}" ]] || continue
    ok=0
    IFS='|' read -ra alts <<<"$group"
    for alt in "${alts[@]}"; do
      if satisfied "$alt"; then ok=1; break; fi
    done
    ((ok)) && continue
    first="$(sed -E 's/^[[:space:]]*([^ :(]+).*/\1/' <<<"${alts[0]}")"
    arch="$(suite_field "$first" Architecture)"
    # Only pure-Python packages can be borrowed: compiled ones are built for the suite's newer Python/libc.
    [[ "$first" == python3-* && "$arch" == all ]] ||
      die "$pkg ($SUITE) needs '${group# }', which the system does not satisfy and which cannot be unpacked privately (arch '${arch:-absent}')"
    VERSION[$first]="$(suite_field "$first" Version)"
    satisfied "${alts[0]}" || die "$pkg needs '${alts[0]# }' but $SUITE has $first ${VERSION[$first]}"
    say "also taking $first ${VERSION[$first]} from $SUITE (needed by $pkg: ${group# })"
    queue+=("$first")
  done
done

# ---- 4. download and unpack into a fresh directory, then swap it in
pkgs=()
for p in "${!VERSION[@]}"; do pkgs+=("$p=${VERSION[$p]}"); done
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort)
say "downloading ${pkgs[*]}"
rm -f "$APTDIR/debs/"*.deb
(cd "$APTDIR/debs" && apt-get "${APT_OPTS[@]}" -q download "${pkgs[@]}") >"$APTDIR/download.log" 2>&1 ||
  die "apt-get download from $SUITE failed; see .cache/apt-moto/download.log"

TMP="$(mktemp -d "$REPO/.cache/moto.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
for deb in "$APTDIR/debs/"*.deb; do dpkg-deb -x "$deb" "$TMP"; done
[[ -d "$TMP/usr/lib/python3/dist-packages/moto" ]] || die "python3-moto unpacked without usr/lib/python3/dist-packages/moto"
{
  echo "$WANT_STAMP"
  echo "mirror=$MIRROR"
  printf '%s\n' "${pkgs[@]}"
} >"$TMP/.installed.new"
rm -rf "$DEST"
mv "$TMP" "$DEST"
trap - EXIT
moto_imports || die "moto was unpacked into $DEST but 'import moto' fails with $PY; try: PYTHONPATH=$SITE $PY -c 'import moto.server'"
mv "$DEST/.installed.new" "$STAMP"
say "installed $(PYTHONPATH="$SITE" "$PY" -c 'import moto, botocore, boto3; print("moto", moto.__version__, "botocore", botocore.__version__, "boto3", boto3.__version__)') into .cache/moto"
