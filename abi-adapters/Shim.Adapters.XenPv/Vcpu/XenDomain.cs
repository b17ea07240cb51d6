using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Events;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>Domain-wide PV state: vCPUs, shared_info, event channels, vm_assist and the shutdown code.</summary>
public sealed class XenDomain : IVcpuInfoDirectory
{
    private readonly XenVcpu[] _vcpus;
    private readonly IVcpuKicker _kicker;

    /// <param name="memoryFactory">Makes each vCPU's guest-virtual accessor; it must translate through that vCPU's active root.</param>
    public XenDomain(XenDomainOptions options, IGuestMemory memory, IVcpuKicker kicker, Func<int, IGuestVirtualMemory> memoryFactory)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.VcpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.VcpuCount, SharedInfoLayout.LegacyVcpuInfoSlots);
        Options = options;
        Memory = memory;
        _kicker = kicker;
        SharedInfoAddress = new GuestPhysicalAddress(options.SharedInfoAddress);
        if (!memory.Contains(SharedInfoAddress, GuestPhysicalAddress.PageSize))
            throw new ArgumentException($"shared_info at {SharedInfoAddress} is outside guest memory", nameof(options));
        Layout = SharedInfoLayout.For(options.Width);
        VmAssist = new VmAssist(options.Width);
        _vcpus = new XenVcpu[options.VcpuCount];
        for (var i = 0; i < _vcpus.Length; i++)
            _vcpus[i] = new XenVcpu(this, i, memoryFactory(i));
        Events = new EventChannelTable(Layout, memory, SharedInfoAddress, this);
    }

    public XenDomainOptions Options { get; }

    public XenGuestWidth Width => Options.Width;

    public ushort DomainId => Options.DomainId;

    public IGuestMemory Memory { get; }

    public GuestPhysicalAddress SharedInfoAddress { get; }

    public SharedInfoLayout Layout { get; }

    public VmAssist VmAssist { get; }

    public EventChannelTable Events { get; }

    public IReadOnlyList<XenVcpu> Vcpus => _vcpus;

    /// <summary>SCHEDOP_shutdown_code: the reason recorded for a later shutdown (e.g. crash before a reboot).</summary>
    public ShutdownReason? ShutdownCode { get; set; }

    public int VcpuCount => _vcpus.Length;

    public GuestPhysicalAddress VcpuInfoAddress(int vcpuId) => _vcpus[vcpuId].VcpuInfoAddress;

    public void Kick(int vcpuId) => _kicker.Kick(vcpuId);

    public void WakeIfPolling(int vcpuId)
    {
        if (_vcpus[vcpuId].IsPolling)
            _kicker.Kick(vcpuId);
    }

    /// <summary>DOMID_SELF (0x7FF0) or the domain's own id.</summary>
    public bool IsSelf(ulong domainId) => domainId == DomidSelf || domainId == DomainId;

    public const ushort DomidSelf = 0x7FF0;
}
