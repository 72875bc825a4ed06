#!/usr/bin/env bash
# Tools to build the container image (`npm run image`: umoci for the OCI layout, skopeo to push it) and to run it
# in the container tests (podman with runc), from the system's Debian packages. Idempotent: installs only what
# is missing. Called by scripts/setup-test-deps.sh.
set -euo pipefail

# command → Debian package
declare -A NEEDED=([umoci]=umoci [skopeo]=skopeo [podman]=podman [runc]=runc [tar]=tar)
missing=()
for cmd in "${!NEEDED[@]}"; do
  # runc lives in /usr/sbin, which a non-login PATH may lack.
  command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]] || missing+=("${NEEDED[$cmd]}")
done
((${#missing[@]})) || exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "setup-container-deps: missing ${missing[*]}; install them: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "setup-container-deps: installing ${missing[*]} from the system's apt sources"
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
