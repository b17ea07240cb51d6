using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Descriptors;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// The memory-management state of one PV domain that the MMU hypercall handlers share: guest memory, the frame
/// table and its rules, the M2P, per-vCPU descriptor-table state, and the hooks into the monitor (TLB flushes,
/// descriptor tables).
/// </summary>
public sealed class XenDomainMemory
{
    public const ushort DomidSelf = 0x7FF0;

    private readonly XenVcpuMemoryState[] _vcpus;
    private readonly Func<int, IGuestDescriptorTables> _descriptorTables;

    public XenDomainMemory(
        IGuestMemory memory,
        XenPageTableManager pageTables,
        MachineToPhysTable? machineToPhys,
        XenMemoryOptions options,
        ITlbFlushRequests tlbFlushes,
        Func<int, IGuestDescriptorTables> descriptorTablesForVcpu)
    {
        if (options.VcpuCount is < 1 or > 4096)
            throw new ArgumentOutOfRangeException(nameof(options), options.VcpuCount, "vCPU count must be 1..4096");
        Memory = memory;
        PageTables = pageTables;
        MachineToPhys = machineToPhys;
        Options = options;
        TlbFlushes = tlbFlushes;
        _descriptorTables = descriptorTablesForVcpu;
        _vcpus = Enumerable.Range(0, options.VcpuCount).Select(_ => new XenVcpuMemoryState()).ToArray();
    }

    public IGuestMemory Memory { get; }

    public XenPageTableManager PageTables { get; }

    public XenFrameTable Frames => PageTables.Frames;

    public MachineToPhysTable? MachineToPhys { get; }

    public XenMemoryOptions Options { get; }

    public XenGuestWidth Width => Options.Width;

    public ITlbFlushRequests TlbFlushes { get; }

    public XenVcpuMemoryState Vcpu(int vcpuId) => _vcpus[vcpuId];

    public IGuestDescriptorTables DescriptorTables(int vcpuId) => _descriptorTables(vcpuId);

    public IEnumerable<int> VcpuIds => Enumerable.Range(0, _vcpus.Length);

    /// <summary>
    /// Serialises changes to the frame table and page tables across vCPU threads (Xen's page and domain locks);
    /// every MMU handler holds it for the whole call.
    /// </summary>
    public Lock Gate { get; } = new();

    /// <summary>Xen's get_pg_owner for a domU: only this domain may be named.</summary>
    public bool IsSelf(uint domainId) => domainId == DomidSelf || domainId == Options.DomainId;

    /// <summary>Flush every vCPU whose id is set in <paramref name="vcpuIds"/>, the caller through its own context.</summary>
    public void Flush(IXenCallContext caller, IEnumerable<int> vcpuIds)
    {
        foreach (int id in vcpuIds)
        {
            if (id == caller.VcpuId)
                caller.RequestTlbFlush();
            else
                TlbFlushes.RequestFlush(id);
        }
    }

    /// <summary>
    /// Read a guest vCPU bitmap (unsigned longs of the guest's width) as Xen's vcpumask_to_pcpumask does; bits for
    /// vCPUs that do not exist are ignored. Null when the bitmap cannot be read.
    /// </summary>
    public List<int>? ReadVcpuMask(IXenCallContext caller, ulong pointer)
    {
        int bitsPerWord = Width == XenGuestWidth.Pv64 ? 64 : 32;
        var ids = new List<int>();
        Span<byte> word = stackalloc byte[bitsPerWord / 8];
        for (int first = 0; first < _vcpus.Length; first += bitsPerWord)
        {
            if (!caller.Memory.TryRead(pointer + (ulong)(first / 8), word))
                return null;
            ulong bits = bitsPerWord == 64 ? BitConverter.ToUInt64(word) : BitConverter.ToUInt32(word);
            for (int bit = 0; bit < bitsPerWord && first + bit < _vcpus.Length; bit++)
                if ((bits & (1UL << bit)) != 0)
                    ids.Add(first + bit);
        }
        return ids;
    }
}
