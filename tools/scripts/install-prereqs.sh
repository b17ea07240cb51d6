#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmarks need, only when something is missing.
# Runs as root on the project's machines (apt-get works as is); elsewhere it uses sudo when available.
set -euo pipefail

# command -> package providing it
declare -A needed=(
  [gcc]=gcc
  [readelf]=binutils
  [objdump]=binutils
  [xz]=xz-utils
  [bzip2]=bzip2
  [lz4]=lz4
  [zstd]=zstd
  [lzma]=xz-utils
  [cpio]=cpio
  [apt-get]=apt
  [dpkg-deb]=dpkg
)

missing=()
for command in "${!needed[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${needed[$command]}")
done
# The ahead-of-time compiled `shim` (publish-shim.sh) links against the system's zlib.
[ -f /usr/include/zlib.h ] || missing+=(zlib1g-dev)
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "install-prereqs: installing ${packages[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
