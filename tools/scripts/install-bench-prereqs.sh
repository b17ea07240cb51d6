#!/usr/bin/env bash
# Installs what only `shim bench boot` needs: QEMU from Debian's qemu-system-x86 (the TCG baseline).
# Kept apart from install-prereqs.sh so that building and testing Shim never depends on QEMU.
set -euo pipefail

command -v qemu-system-x86_64 >/dev/null 2>&1 && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-bench-prereqs: installing qemu-system-x86" >&2
$sudo apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
