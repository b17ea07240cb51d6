#!/usr/bin/env bash
# The project's test command (README, .ci/run): prerequisites, real guest images, build, every test, one summary line.
set -uo pipefail
cd "$(dirname "$0")/../.."

bash tools/scripts/install-prereqs.sh || { echo "test.sh: could not install prerequisites" >&2; exit 1; }
if [ -x tools/scripts/fetch-guests.sh ] || [ -f tools/scripts/fetch-guests.sh ]; then
  bash tools/scripts/fetch-guests.sh || { echo "test.sh: could not fetch guest images" >&2; exit 1; }
fi

dotnet build Shim.sln -c Release --nologo -v quiet || { echo "test.sh: build failed" >&2; exit 1; }

rm -rf TestResults
# A hung test must fail the run, not stall CI: the hang watchdog dumps and kills the test host.
dotnet test Shim.sln -c Release --no-build --nologo --logger trx --results-directory TestResults --blame-hang-timeout 5m "$@"
test_status=$?

# The archived-guest regression suite (docs/catalog.md): every catalog entry in its own `shim run` process, run by
# the shipped, ahead-of-time compiled `shim` (the tests above use the JIT build of the same code).
regress_status=0
if shim=$(bash tools/scripts/publish-shim.sh) \
   && bash guest-images/test-guests/build.sh >/dev/null \
   && mkdir -p .cache/initramfs \
   && $shim initramfs --busybox .cache/guests/busybox/busybox --output .cache/initramfs/busybox.cpio >/dev/null; then
  $shim regress guest-images/catalog --jobs 2 --output TestResults/regress
  regress_status=$?
else
  echo "test.sh: could not publish shim or build the test guests or the initramfs for shim regress" >&2
  regress_status=1
fi

python3 tools/scripts/test-summary.py TestResults
summary_status=$?
[ $test_status -eq 0 ] && [ $summary_status -eq 0 ] && [ $regress_status -eq 0 ]
