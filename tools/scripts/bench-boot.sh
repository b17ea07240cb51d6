#!/usr/bin/env bash
# The issue 9 boot benchmark on a fresh machine: QEMU (qemu-system-x86), the Debian images, the ahead-of-time
# compiled `shim` (publish-shim.sh), the busybox initramfs, then `shim bench boot` (Shim and QEMU TCG in the same
# run). Extra arguments go to the bench.
#   tools/scripts/bench-boot.sh [--generic] [shim bench boot options...]     e.g. --timeout 300, --append "quiet"
set -euo pipefail
cd "$(dirname "$0")/../.."
generic=0
if [ "${1:-}" = "--generic" ]; then generic=1; shift; fi
bash tools/scripts/install-prereqs.sh
bash tools/scripts/install-bench-prereqs.sh
bash tools/scripts/fetch-guests.sh >&2
shim=$(bash tools/scripts/publish-shim.sh)
if [ $generic -eq 1 ]; then
  kernel=$(ls .cache/guests/kernels/vmlinuz-*-amd64 | grep -v -- -cloud-amd64)
else
  kernel=$(ls .cache/guests/kernels/vmlinuz-*-cloud-amd64)
fi
mkdir -p .cache/initramfs
"$shim" initramfs --busybox .cache/guests/busybox/busybox --output .cache/initramfs/busybox.cpio >&2
exec "$shim" bench boot --kernel "$kernel" --initrd .cache/initramfs/busybox.cpio "$@"
