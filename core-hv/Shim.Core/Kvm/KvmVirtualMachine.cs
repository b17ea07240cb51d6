using System.Runtime.InteropServices;
using Serilog;
using Shim.Core.Memory;

namespace Shim.Core.Kvm;

/// <summary>A KVM VM: memory slots and vCPUs. Disposing it closes every vCPU, unmaps memory and closes the VM fd.</summary>
public sealed class KvmVirtualMachine : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private struct UserspaceMemoryRegion
    {
        public uint Slot, Flags;
        public ulong GuestPhysicalAddress, MemorySize, UserspaceAddress;
    }

    private readonly FileDescriptor _fd;
    private readonly ILogger _logger;
    private readonly List<KvmVcpu> _vcpus = [];

    internal KvmVirtualMachine(KvmSystem system, FileDescriptor fd, ILogger logger)
    {
        System = system;
        _fd = fd;
        _logger = logger;
    }

    public KvmSystem System { get; }
    public KvmGuestMemory Memory { get; } = new();

    /// <summary>Maps zeroed anonymous memory at <paramref name="start"/> as the next KVM slot.</summary>
    public unsafe GuestMemoryRegion AddMemory(GuestPhysicalAddress start, ulong size, string name)
    {
        if (!start.IsPageAligned || size == 0 || size % GuestPhysicalAddress.PageSize != 0)
            throw new ArgumentException($"memory region {name}: start {start} and size 0x{size:x} must be non-empty and page-aligned");
        var host = LibC.Mmap(0, (nuint)size, LibC.PROT_READ | LibC.PROT_WRITE,
            LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1, 0);
        if (host == LibC.MapFailed)
            throw new KvmException($"mmap {size} bytes for {name}", Marshal.GetLastPInvokeError());
        var region = new GuestMemoryRegion(Memory.Regions.Count, start, size, host, name);
        try
        {
            Memory.Add(region);
            var request = new UserspaceMemoryRegion
            {
                Slot = (uint)region.Slot,
                GuestPhysicalAddress = start.Value,
                MemorySize = size,
                UserspaceAddress = (ulong)host,
            };
            _fd.Ioctl(KvmIoctl.SetUserMemoryRegion, (nint)(&request), $"KVM_SET_USER_MEMORY_REGION ({name})");
        }
        catch
        {
            region.Dispose();
            throw;
        }
        _logger.Debug("Mapped {Name} at {Start} size {Size:x} (slot {Slot})", name, start, size, region.Slot);
        return region;
    }

    /// <summary>
    /// Deletes and re-adds every memory slot with the same backing. KVM then drops all shadow page tables, so
    /// guest page-table entries the VMM changed behind the guest's back are re-read on the next access.
    /// </summary>
    public unsafe void ReregisterMemory()
    {
        foreach (var region in Memory.Regions)
        {
            var request = new UserspaceMemoryRegion { Slot = (uint)region.Slot };
            _fd.Ioctl(KvmIoctl.SetUserMemoryRegion, (nint)(&request), $"KVM_SET_USER_MEMORY_REGION (delete {region.Name})");
            request = new UserspaceMemoryRegion
            {
                Slot = (uint)region.Slot,
                GuestPhysicalAddress = region.Start.Value,
                MemorySize = region.Size,
                UserspaceAddress = (ulong)region.Host,
            };
            _fd.Ioctl(KvmIoctl.SetUserMemoryRegion, (nint)(&request), $"KVM_SET_USER_MEMORY_REGION ({region.Name})");
        }
    }

    /// <param name="useSyncRegs">Use KVM_CAP_SYNC_REGS when the host has it (false forces GET/SET ioctls per exit).</param>
    public KvmVcpu CreateVcpu(int id, bool useSyncRegs = true)
    {
        var fd = new FileDescriptor(_fd.Ioctl(KvmIoctl.CreateVcpu, id, $"KVM_CREATE_VCPU {id}"), $"kvm-vcpu{id}");
        try
        {
            var vcpu = new KvmVcpu(id, fd, System.VcpuMmapSize,
                useSyncRegs && System.CheckCapability(KvmCapability.SyncRegs) != 0);
            _vcpus.Add(vcpu);
            return vcpu;
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var vcpu in _vcpus)
            vcpu.Dispose();
        _vcpus.Clear();
        _fd.Dispose();
        foreach (var region in Memory.Regions)
            region.Dispose();
    }
}
