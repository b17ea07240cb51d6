#!/usr/bin/env bash
# Builds Shim's VMI test guests (i386, freestanding) with the system gcc.
# Usage: build.sh [OUTPUT_DIR]    default OUTPUT_DIR: <repo>/.cache/test-guests/vmi (git-ignored)
# Every guest named in manifest.tsv becomes OUTPUT_DIR/<guest>: a static ELF32 loaded at 1 MiB.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../../../.cache/test-guests/vmi}
cc=${CC:-gcc}
mkdir -p "$out/obj"
out=$(cd "$out" && pwd)

flags=(-m32 -march=i686 -mregparm=3 -std=gnu11 -O2 -g0 -Wall -Wextra -Werror
       -ffreestanding -fno-builtin -nostdlib -static -fno-pic -fno-pie -mgeneral-regs-only
       -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none
       -I "$here/runtime")
linkflags=(-no-pie -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments
           -Wl,-T,"$here/runtime/guest.ld")

for src in head.S rt.c start.c; do
    "$cc" "${flags[@]}" -c "$here/runtime/$src" -o "$out/obj/${src%.*}.o"
done

built=0
for guest in $(awk -F'\t' '!/^#/ && NF { print $2 }' "$here/manifest.tsv" | sort -u); do
    "$cc" "${flags[@]}" -c "$here/$guest.c" -o "$out/obj/$guest.o"
    "$cc" "${flags[@]}" "${linkflags[@]}" -o "$out/$guest" "$out/obj/head.o" "$out/obj/rt.o" "$out/obj/start.o" "$out/obj/$guest.o"
    built=$((built + 1))
done
echo "build.sh: built $built VMI guests in $out"
