#!/usr/bin/env bash
# Builds Shim's Xen PV test guests (see docs/test-guests.md) with the system gcc.
# Usage: build.sh [OUTPUT_DIR]    default OUTPUT_DIR: <repo>/.cache/test-guests (git-ignored)
# Every guest listed in manifest.tsv becomes OUTPUT_DIR/<name>: a static ELF64 (pv64) or ELF32 (pv32pae)
# Xen PV kernel.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../../.cache/test-guests}
cc=${CC:-gcc}
mkdir -p "$out/obj"
out=$(cd "$out" && pwd)

common=(-std=gnu11 -O2 -g0 -Wall -Wextra -Werror
        -ffreestanding -fno-builtin -nostdlib -static -fno-pic -fno-pie -mgeneral-regs-only
        -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables -fcf-protection=none
        -I "$here/runtime")
linkflags=(-no-pie -Wl,--build-id=none -Wl,-z,noexecstack -Wl,-z,max-page-size=4096 -Wl,--no-warn-rwx-segments)

arch_flags() {   # $1 = pv64 | pv32pae
    case $1 in
        pv64) echo "-m64 -mcmodel=kernel -mno-red-zone" ;;
        pv32pae) echo "-m32 -march=i686" ;;
        *) echo "build.sh: unknown arch '$1'" >&2; return 1 ;;
    esac
}

runtime_objects() {   # $1 = arch, $2 = inline | page
    local arch=$1 mechanism=$2 defines=() head=head64.S
    [[ $mechanism == page ]] && defines=(-DHYPERCALL_PAGE)
    [[ $arch == pv32pae ]] && head=head32.S
    local dir="$out/obj/$arch-$mechanism"
    mkdir -p "$dir"
    # shellcheck disable=SC2046
    "$cc" "${common[@]}" $(arch_flags "$arch") "${defines[@]}" -c "$here/runtime/$head" -o "$dir/head.o"
    for src in rt.c format.c; do
        # shellcheck disable=SC2046
        "$cc" "${common[@]}" $(arch_flags "$arch") "${defines[@]}" -c "$here/runtime/$src" -o "$dir/${src%.c}.o"
    done
}

for arch in pv64 pv32pae; do
    for mechanism in inline page; do
        runtime_objects "$arch" "$mechanism"
    done
done

built=0
while IFS=$'\t' read -r name arch source mechanism _shutdown _expected; do
    [[ -z $name || $name == \#* ]] && continue
    case $mechanism in
        inline) defines=() ;;
        page) defines=(-DHYPERCALL_PAGE) ;;
        *) echo "build.sh: $name: unknown hypercall mechanism '$mechanism'" >&2; exit 1 ;;
    esac
    flags=$(arch_flags "$arch")
    script=$here/runtime/pv64.ld
    [[ $arch == pv32pae ]] && script=$here/runtime/pv32.ld
    objects=$out/obj/$arch-$mechanism
    # shellcheck disable=SC2086
    "$cc" "${common[@]}" $flags "${defines[@]}" -c "$here/$source" -o "$out/obj/$name.o"
    # shellcheck disable=SC2086
    "$cc" "${common[@]}" $flags "${linkflags[@]}" -Wl,-T,"$script" -o "$out/$name" \
        "$objects/head.o" "$objects/rt.o" "$objects/format.o" "$out/obj/$name.o"
    built=$((built + 1))
done < "$here/manifest.tsv"

echo "build.sh: built $built guests in $out"
