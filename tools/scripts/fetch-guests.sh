#!/usr/bin/env bash
# Fetch real Xen-PV guest images from Debian packages into a git-ignored cache.
#
#   tools/scripts/fetch-guests.sh [--cache DIR] [--force]
#
# Cache layout (default DIR = <repo>/.cache/guests):
#   kernels/vmlinuz-<version>        generic (xz + x86 BCJ) and cloud (lz4) 6.1 kernels
#   grub/grub-x86_64-xen.bin         64-bit PV GRUB
#   grub/grub-i386-xen.bin           32-bit PAE PV GRUB
#   busybox/busybox                  static busybox for initramfs tests
#   MANIFEST.sha256                  sha256sum of every file above (paths relative to DIR)
#   PACKAGES                         the exact package versions the files came from
#
# Idempotent: when the manifest exists and every checksum matches, nothing is downloaded.
# Needs apt-get and dpkg-deb (Debian/Ubuntu); runs `apt-get update` only when a package is unknown.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="$repo_root/.cache/guests"
force=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "fetch-guests: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

manifest="$cache/MANIFEST.sha256"

cache_is_complete() {
  [[ -s "$manifest" ]] || return 1
  local kernels
  kernels=$(grep -c ' kernels/vmlinuz-' "$manifest" || true)
  [[ "$kernels" -ge 2 ]] || return 1
  grep -q ' grub/grub-x86_64-xen.bin$' "$manifest" || return 1
  grep -q ' grub/grub-i386-xen.bin$' "$manifest" || return 1
  grep -q ' busybox/busybox$' "$manifest" || return 1
  (cd "$cache" && sha256sum --quiet --check MANIFEST.sha256) >/dev/null 2>&1
}

if [[ $force -eq 0 ]] && cache_is_complete; then
  echo "fetch-guests: cache complete and verified: $cache"
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb sha256sum; do
  command -v "$tool" >/dev/null || { echo "fetch-guests: '$tool' not found (needs a Debian-like host)" >&2; exit 3; }
done

apt_updated=0
ensure_known() {
  # apt-get update only when the package lists do not know the package yet.
  if ! apt-cache show "$1" >/dev/null 2>&1; then
    if [[ $apt_updated -eq 0 ]]; then
      echo "fetch-guests: apt-get update" >&2
      apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
      apt_updated=1
    fi
    apt-cache show "$1" >/dev/null 2>&1 || { echo "fetch-guests: package '$1' not found in apt sources" >&2; exit 4; }
  fi
}

# The metapackage depends on exactly one versioned image package, e.g. linux-image-6.1.0-35-cloud-amd64.
resolve_image_package() {
  local meta="$1" flavour="$2" dep
  ensure_known "$meta"
  dep=$(apt-cache depends "$meta" | sed -n "s/^ *Depends: \(linux-image-[0-9][^ ]*-$flavour\)\$/\1/p" | head -n1)
  [[ -n "$dep" ]] || { echo "fetch-guests: cannot resolve the kernel package behind $meta" >&2; exit 4; }
  echo "$dep"
}

cloud_pkg=$(resolve_image_package linux-image-cloud-amd64 cloud-amd64)
generic_pkg=$(resolve_image_package linux-image-amd64 amd64)
packages=("$cloud_pkg" "$generic_pkg" grub-xen-host busybox-static)
for p in "${packages[@]}"; do ensure_known "$p"; done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "fetch-guests: downloading ${packages[*]}" >&2
(cd "$work" && apt-get -o APT::Sandbox::User=root download -qq "${packages[@]}" >&2)

mkdir -p "$work/root"
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done

staging="$cache.new"
rm -rf "$staging"
mkdir -p "$staging/kernels" "$staging/grub" "$staging/busybox"
shopt -s nullglob
kernels=("$work"/root/boot/vmlinuz-*)
[[ ${#kernels[@]} -ge 2 ]] || { echo "fetch-guests: expected two kernels, found ${#kernels[@]}" >&2; exit 5; }
cp "${kernels[@]}" "$staging/kernels/"
cp "$work/root/usr/lib/grub-xen/grub-x86_64-xen.bin" "$work/root/usr/lib/grub-xen/grub-i386-xen.bin" "$staging/grub/"
cp "$work/root/bin/busybox" "$staging/busybox/busybox"

for deb in "$work"/*.deb; do dpkg-deb -f "$deb" Package Version | paste -sd' '; done >"$staging/PACKAGES"
(cd "$staging" && find kernels grub busybox -type f | sort | xargs sha256sum >MANIFEST.sha256)

rm -rf "$cache"
mkdir -p "$(dirname "$cache")"
mv "$staging" "$cache"
echo "fetch-guests: cache ready: $cache"
cat "$cache/PACKAGES" >&2
