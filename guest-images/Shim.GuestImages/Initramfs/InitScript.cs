namespace Shim.GuestImages.Initramfs;

/// <summary>
/// The default /init (run by busybox sh) and the lines it prints, which tests and `shim bench boot` look for.
/// Marker line: <c>SHIM-INIT-MARKER uname=[...] vcpus=N memfree=[... kB]</c>; then a prompt; the one line read from
/// the console runs under <c>sh -c</c>, <c>SHIM-INIT-STATUS n</c> reports its exit status, and the machine powers off.
/// </summary>
public static class InitScript
{
    public const string Marker = "SHIM-INIT-MARKER";
    public const string Prompt = "shim-init# ";
    public const string StatusPrefix = "SHIM-INIT-STATUS ";
    public const string PowerOffLine = "SHIM-INIT-POWEROFF";

    // poweroff -f calls reboot(2) directly: without -f busybox would signal init, which is this script.
    // devtmpfs may be missing from a kernel; /dev/console from the archive keeps the console working without it.
    public static string Default { get; } = $$"""
        #!/bin/sh
        # /init of the initramfs built by `shim initramfs` (docs/initramfs.md).
        export PATH=/bin:/sbin:/usr/bin:/usr/sbin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev 2>/dev/null || echo "shim-init: devtmpfs not mounted"
        memfree=$(sed -n 's/^MemFree: *//p' /proc/meminfo)
        echo "{{Marker}} uname=[$(uname -a)] vcpus=$(nproc) memfree=[$memfree]"
        printf '{{Prompt}}'
        if read -r line; then
          sh -c "$line"
          echo "{{StatusPrefix}}$?"
        fi
        echo "{{PowerOffLine}}"
        poweroff -f

        """;
}
