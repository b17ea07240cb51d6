#!/usr/bin/env bash
# The README's "run a guest" command on a fresh machine: prerequisites, the real guest images from Debian, a
# release build, then `shim run` of a guest (default: GRUB's 64-bit Xen-PV image). Extra arguments go to `shim run`.
#   tools/scripts/run-guest.sh [IMAGE] [shim run options...]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash tools/scripts/install-prereqs.sh
bash tools/scripts/fetch-guests.sh >&2
dotnet build tools/Shim.Cli -c Release --nologo -v quiet >&2
image=.cache/guests/grub/grub-x86_64-xen.bin
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then image=$1; shift; fi
exec dotnet tools/Shim.Cli/bin/Release/net10.0/shim.dll run "$image" "$@"
