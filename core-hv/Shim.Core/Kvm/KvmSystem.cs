using System.Runtime.InteropServices;
using Serilog;

namespace Shim.Core.Kvm;

/// <summary>The /dev/kvm system handle: capability queries and VM creation.</summary>
public sealed class KvmSystem : IDisposable
{
    public const string DefaultDevicePath = "/dev/kvm";
    public const int ExpectedApiVersion = 12;

    private readonly FileDescriptor _fd;
    private readonly ILogger _logger;

    private KvmSystem(FileDescriptor fd, ILogger logger)
    {
        _fd = fd;
        _logger = logger;
        ApiVersion = _fd.Ioctl(KvmIoctl.GetApiVersion, 0, "KVM_GET_API_VERSION");
        if (ApiVersion != ExpectedApiVersion)
            throw new KvmException($"KVM API version {ApiVersion} (expected {ExpectedApiVersion})", Errno.EOPNOTSUPP);
        VcpuMmapSize = _fd.Ioctl(KvmIoctl.GetVcpuMmapSize, 0, "KVM_GET_VCPU_MMAP_SIZE");
    }

    public int ApiVersion { get; }
    public int VcpuMmapSize { get; }

    /// <summary>Opens the KVM device; throws <see cref="KvmException"/> (ENOENT, EACCES, ...) when it is unusable.</summary>
    public static KvmSystem Open(ILogger logger, string devicePath = DefaultDevicePath)
    {
        var fd = FileDescriptor.Open(devicePath);
        try
        {
            return new KvmSystem(fd, logger);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>KVM_CHECK_EXTENSION: 0 when absent, otherwise the capability's value (often 1, or a count).</summary>
    public int CheckCapability(KvmCapability capability) =>
        Math.Max(0, _fd.TryIoctl(KvmIoctl.CheckExtension, (nint)capability));

    public unsafe CpuidEntry[] GetSupportedCpuid()
    {
        for (var capacity = 128; capacity <= 4096; capacity *= 2)
        {
            var bytes = 8 + capacity * sizeof(CpuidEntry);
            var buffer = NativeMemory.AllocZeroed((nuint)bytes);
            try
            {
                *(uint*)buffer = (uint)capacity;
                var result = _fd.TryIoctl(KvmIoctl.GetSupportedCpuid, (nint)buffer);
                if (result == -Errno.E2BIG)
                    continue;
                if (result < 0)
                    throw new KvmException("KVM_GET_SUPPORTED_CPUID", -result);
                var count = *(uint*)buffer;
                return new ReadOnlySpan<CpuidEntry>((byte*)buffer + 8, (int)count).ToArray();
            }
            finally
            {
                NativeMemory.Free(buffer);
            }
        }
        throw new KvmException("KVM_GET_SUPPORTED_CPUID", Errno.E2BIG);
    }

    public KvmVirtualMachine CreateVirtualMachine()
    {
        var vmFd = _fd.Ioctl(KvmIoctl.CreateVm, 0, "KVM_CREATE_VM");
        return new KvmVirtualMachine(this, new FileDescriptor(vmFd, "kvm-vm"), _logger);
    }

    public void Dispose() => _fd.Dispose();
}
