#!/usr/bin/env bash
# Boots Debian's unmodified cloud kernel under Shim to the busybox prompt of Shim's test initramfs: prerequisites,
# the real images from Debian (kernel + busybox-static), the ahead-of-time compiled `shim` (publish-shim.sh), the
# initramfs, then `shim run`.
# The init prints a marker line (uname, vCPUs, free memory), runs ONE line you type, and powers off.
#   tools/scripts/run-debian.sh [--generic] [shim run options...]     e.g. --stats, --timeout 300, --vcpus 2
set -euo pipefail
cd "$(dirname "$0")/../.."
generic=0
if [ "${1:-}" = "--generic" ]; then generic=1; shift; fi
bash tools/scripts/install-prereqs.sh
bash tools/scripts/fetch-guests.sh >&2
shim=("$(bash tools/scripts/publish-shim.sh)")
if [ $generic -eq 1 ]; then
  kernel=$(ls .cache/guests/kernels/vmlinuz-*-amd64 | grep -v -- -cloud-amd64)
else
  kernel=$(ls .cache/guests/kernels/vmlinuz-*-cloud-amd64)
fi
mkdir -p .cache/initramfs
"${shim[@]}" initramfs --busybox .cache/guests/busybox/busybox --output .cache/initramfs/busybox.cpio >&2
# shim run forwards console input only from a pipe or file. At a terminal, head makes one that carries the one line
# the init reads (sent on Enter) and then ends, so nothing is left reading the terminal after the guest is gone.
if [ -t 0 ]; then
  head -n 1 | "${shim[@]}" run "$kernel" --initrd .cache/initramfs/busybox.cpio --cmdline "console=hvc0" "$@"
else
  exec "${shim[@]}" run "$kernel" --initrd .cache/initramfs/busybox.cpio --cmdline "console=hvc0" "$@"
fi
