# shellcheck shell=bash
# Sourced by scripts/build-pgtools.sh (which sets the constants and globals named below); not run on its own.
# The Debian mirror and the private apt configuration: finds the system's mirror, keeps newer suites in a private
# apt root under APT_BASE (the system's apt sources are read, never changed), chooses the suite that has the client
# and computes the dependency closure. Uses APT_BASE, KEYRING, MIRROR, SUITES, CLIENT_PKG, EXCLUDE_RE and the
# sys_http(s)_proxy values; choose_suite sets SUITE, SUITE_CODENAME and APT_ROOT.

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
  local queue=("$CLIENT_PKG" "${EXTRA_PKGS[@]}") next deps dep
  for dep in "${queue[@]}"; do seen[$dep]=1; done
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

