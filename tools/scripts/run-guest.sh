#!/usr/bin/env bash
# The README's "run a guest" command on a fresh machine: prerequisites, the real guest images from Debian, a
# release build, then `shim run`. Without an IMAGE it boots Debian's unmodified cloud kernel to the busybox prompt
# of Shim's test initramfs (tools/scripts/run-debian.sh); with one it runs that image. Extra arguments go to `shim run`.
#   tools/scripts/run-guest.sh [shim run options...]                 Debian cloud kernel → busybox, typed line, poweroff
#   tools/scripts/run-guest.sh IMAGE [shim run options...]           e.g. .cache/guests/grub/grub-x86_64-xen.bin
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -eq 0 ] || [ "${1#-}" != "$1" ]; then
  exec bash tools/scripts/run-debian.sh "$@"
fi
bash tools/scripts/install-prereqs.sh
bash tools/scripts/fetch-guests.sh >&2
shim=$(bash tools/scripts/publish-shim.sh)
image=$1; shift
exec "$shim" run "$image" "$@"
