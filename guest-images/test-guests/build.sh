#!/usr/bin/env bash
# Builds Shim's Xen PV test guests (see docs/test-guests.md) with the system gcc.
# Usage: build.sh [OUTPUT_DIR]    default OUTPUT_DIR: <repo>/.cache/test-guests (git-ignored)
# Every guest listed in manifest.tsv becomes OUTPUT_DIR/<name> (a static ELF64 Xen PV kernel).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../../.cache/test-guests}
cc=${CC:-gcc}
mkdir -p "$out/obj"
out=$(cd "$out" && pwd)

cflags=(-std=gnu11 -O2 -g0 -Wall -Wextra -Werror
        -ffreestanding -fno-builtin -nostdlib -static -fno-pic -fno-pie
        -mcmodel=kernel -mno-red-zone -mgeneral-regs-only
        -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none
        -I "$here/runtime")
ldflags=(-no-pie -Wl,-T,"$here/runtime/pv64.ld" -Wl,--build-id=none -Wl,-z,noexecstack
         -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments)

runtime_objects() {   # $1 = syscall | page
    local variant=$1 defines=()
    [[ $variant == page ]] && defines=(-DHYPERCALL_PAGE)
    local dir="$out/obj/$variant"
    mkdir -p "$dir"
    for src in head64.S rt.c format.c; do
        "$cc" "${cflags[@]}" "${defines[@]}" -c "$here/runtime/$src" -o "$dir/${src%.*}.o"
    done
}

runtime_objects syscall
runtime_objects page

built=0
while IFS=$'\t' read -r name source mechanism _shutdown _expected; do
    [[ -z $name || $name == \#* ]] && continue
    case $mechanism in
        syscall) defines=() ;;
        page) defines=(-DHYPERCALL_PAGE) ;;
        *) echo "build.sh: $name: unknown hypercall mechanism '$mechanism'" >&2; exit 1 ;;
    esac
    "$cc" "${cflags[@]}" "${defines[@]}" -c "$here/$source" -o "$out/obj/$name.o"
    "$cc" "${cflags[@]}" "${ldflags[@]}" -o "$out/$name" \
        "$out/obj/$mechanism/head64.o" "$out/obj/$mechanism/rt.o" "$out/obj/$mechanism/format.o" "$out/obj/$name.o"
    built=$((built + 1))
done < "$here/manifest.tsv"

echo "build.sh: built $built guests in $out"
