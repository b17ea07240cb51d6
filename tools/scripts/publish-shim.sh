#!/usr/bin/env bash
# Builds the shipped `shim`: compiled ahead of time (NativeAOT, linked with the system C compiler) into
# artifacts/shim/shim. Prints that path on stdout; build output goes to stderr.
#   tools/scripts/publish-shim.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet publish tools/Shim.Cli -c Release -r linux-x64 -o artifacts/shim --nologo -v quiet >&2
echo "$PWD/artifacts/shim/shim"
