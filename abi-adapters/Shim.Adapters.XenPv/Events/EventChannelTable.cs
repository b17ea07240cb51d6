using Shim.Adapters.XenPv.Abi;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Events;

/// <summary>Where each vCPU's vcpu_info lives, and how to wake it.</summary>
public interface IVcpuInfoDirectory
{
    int VcpuCount { get; }

    GuestPhysicalAddress VcpuInfoAddress(int vcpuId);

    void Kick(int vcpuId);

    /// <summary>A port of this vCPU became pending while masked: wake it only if it sleeps in SCHEDOP_poll.</summary>
    void WakeIfPolling(int vcpuId);
}

/// <summary>
/// Event channels with the 2-level ABI (xen/common/event_channel.c, event_2l.c): the port table is VMM state, the
/// pending/mask bitmaps, selectors and upcall bytes live in guest memory (shared_info and vcpu_info).
/// Methods return 0/port numbers or negated Xen errnos.
/// </summary>
public sealed class EventChannelTable
{
    private readonly SharedInfoLayout _layout;
    private readonly IGuestMemory _memory;
    private readonly GuestPhysicalAddress _sharedInfo;
    private readonly IVcpuInfoDirectory _vcpus;
    private readonly EventChannelSlot[] _slots;
    private readonly uint[,] _virqPorts;
    private readonly Lock _lock = new();

    public EventChannelTable(SharedInfoLayout layout, IGuestMemory memory, GuestPhysicalAddress sharedInfo, IVcpuInfoDirectory vcpus)
    {
        _layout = layout;
        _memory = memory;
        _sharedInfo = sharedInfo;
        _vcpus = vcpus;
        _slots = new EventChannelSlot[layout.MaxPorts];
        _virqPorts = new uint[vcpus.VcpuCount, Virq.Count];
        _slots[0].Reserved = true;
    }

    public int MaxPorts => _slots.Length;

    public bool IsValidPort(ulong port) => port < (ulong)_slots.Length;

    /// <summary>EVTCHNOP_alloc_unbound: a fresh port waiting for <paramref name="remoteDomain"/> to bind.</summary>
    public long AllocUnbound(ushort remoteDomain)
    {
        lock (_lock)
        {
            var port = FindFreePort();
            if (port < 0)
                return XenErrno.Result(XenErrno.ENOSPC);
            _slots[port] = new EventChannelSlot { Status = EventChannelStatus.Unbound, RemoteDomain = remoteDomain };
            return port;
        }
    }

    /// <summary>Binds a VMM back end (console, xenstore) as the remote end of a new interdomain port.</summary>
    public uint BindBackend(ushort backendDomain, uint backendPort, IEventChannelBackend backend)
    {
        lock (_lock)
        {
            var port = FindFreePort();
            if (port < 0)
                throw new InvalidOperationException("no free event channel for a back end");
            _slots[port] = new EventChannelSlot
            {
                Status = EventChannelStatus.Interdomain, RemoteDomain = backendDomain, RemotePort = backendPort, Backend = backend,
            };
            return (uint)port;
        }
    }

    /// <summary>EVTCHNOP_bind_virq.</summary>
    public long BindVirq(ulong virq, ulong vcpu)
    {
        if (virq >= Virq.Count)
            return XenErrno.Result(XenErrno.EINVAL);
        if (!Virq.IsPerVcpu((uint)virq) && vcpu != 0)
            return XenErrno.Result(XenErrno.EINVAL);
        if (vcpu >= (ulong)_vcpus.VcpuCount)
            return XenErrno.Result(XenErrno.ENOENT);
        lock (_lock)
        {
            if (_virqPorts[vcpu, virq] != 0)
                return XenErrno.Result(XenErrno.EEXIST);
            var port = FindFreePort();
            if (port < 0)
                return XenErrno.Result(XenErrno.ENOSPC);
            _slots[port] = new EventChannelSlot { Status = EventChannelStatus.Virq, Virq = (uint)virq, NotifyVcpu = (int)vcpu };
            _virqPorts[vcpu, virq] = (uint)port;
            return port;
        }
    }

    /// <summary>EVTCHNOP_bind_ipi.</summary>
    public long BindIpi(ulong vcpu)
    {
        if (vcpu >= (ulong)_vcpus.VcpuCount)
            return XenErrno.Result(XenErrno.ENOENT);
        lock (_lock)
        {
            var port = FindFreePort();
            if (port < 0)
                return XenErrno.Result(XenErrno.ENOSPC);
            _slots[port] = new EventChannelSlot { Status = EventChannelStatus.Ipi, NotifyVcpu = (int)vcpu };
            return port;
        }
    }

    /// <summary>EVTCHNOP_send: IPIs become pending locally, interdomain sends reach the back end, unbound sends are dropped.</summary>
    public long Send(ulong port)
    {
        IEventChannelBackend? backend;
        lock (_lock)
        {
            if (!IsValidPort(port))
                return XenErrno.Result(XenErrno.EINVAL);
            ref var slot = ref _slots[port];
            switch (slot.Status)
            {
                case EventChannelStatus.Ipi:
                    SetPendingLocked((uint)port, slot.NotifyVcpu);
                    return 0;
                case EventChannelStatus.Unbound:
                    return 0;
                case EventChannelStatus.Interdomain:
                    backend = slot.Backend;
                    break;
                default:
                    return XenErrno.Result(XenErrno.EINVAL);
            }
        }
        // Outside the lock: the back end may answer by notifying the guest on the same table.
        backend?.OnGuestNotify((uint)port);
        return 0;
    }

    /// <summary>EVTCHNOP_close: frees the port and clears its pending bit.</summary>
    public long Close(ulong port)
    {
        lock (_lock)
        {
            if (!IsValidPort(port) || _slots[port].Reserved)
                return XenErrno.Result(XenErrno.EINVAL);
            ref var slot = ref _slots[port];
            if (slot.Status == EventChannelStatus.Closed)
                return XenErrno.Result(XenErrno.EINVAL);
            if (slot.Status == EventChannelStatus.Virq)
                _virqPorts[slot.NotifyVcpu, slot.Virq] = 0;
            slot = default;
            GuestBitmaps.TestAndClear(_memory, PendingWord((uint)port), _layout.WordBytes, BitOf((uint)port));
            return 0;
        }
    }

    /// <summary>EVTCHNOP_status.</summary>
    public bool TryGetStatus(ulong port, out EventChannelStatusInfo info)
    {
        lock (_lock)
        {
            if (!IsValidPort(port))
            {
                info = default;
                return false;
            }
            var slot = _slots[port];
            info = new EventChannelStatusInfo(slot.Status, (uint)slot.NotifyVcpu, slot.RemoteDomain, slot.RemotePort, slot.Virq);
            return true;
        }
    }

    /// <summary>EVTCHNOP_unmask: clears mask[port] and, if the port is pending, re-raises the upcall.</summary>
    public long Unmask(ulong port)
    {
        lock (_lock)
        {
            if (!IsValidPort(port))
                return XenErrno.Result(XenErrno.EINVAL);
            var p = (uint)port;
            if (GuestBitmaps.TestAndClear(_memory, MaskWord(p), _layout.WordBytes, BitOf(p)) &&
                GuestBitmaps.Test(_memory, PendingWord(p), _layout.WordBytes, BitOf(p)))
                MarkSelectorAndUpcall(p, _slots[p].NotifyVcpu);
            return 0;
        }
    }

    /// <summary>EVTCHNOP_bind_vcpu: only global VIRQs, unbound and interdomain ports may move.</summary>
    public long BindVcpu(ulong port, ulong vcpu)
    {
        if (vcpu >= (ulong)_vcpus.VcpuCount)
            return XenErrno.Result(XenErrno.ENOENT);
        lock (_lock)
        {
            if (!IsValidPort(port))
                return XenErrno.Result(XenErrno.EINVAL);
            ref var slot = ref _slots[port];
            switch (slot.Status)
            {
                case EventChannelStatus.Virq when !Virq.IsPerVcpu(slot.Virq):
                case EventChannelStatus.Unbound:
                case EventChannelStatus.Interdomain:
                    slot.NotifyVcpu = (int)vcpu;
                    if (GuestBitmaps.Test(_memory, PendingWord((uint)port), _layout.WordBytes, BitOf((uint)port)))
                        MarkSelectorAndUpcall((uint)port, slot.NotifyVcpu, checkMask: true);
                    return 0;
                default:
                    return XenErrno.Result(XenErrno.EINVAL);
            }
        }
    }

    /// <summary>EVTCHNOP_reset: every port closed, back ends included.</summary>
    public void Reset()
    {
        lock (_lock)
        {
            for (uint port = 1; port < _slots.Length; port++)
            {
                if (_slots[port].Status != EventChannelStatus.Closed)
                    GuestBitmaps.TestAndClear(_memory, PendingWord(port), _layout.WordBytes, BitOf(port));
                _slots[port] = default;
            }
            Array.Clear(_virqPorts);
        }
    }

    /// <summary>send_guest_vcpu_virq / send_guest_global_virq: raise the VIRQ if the guest bound it.</summary>
    public void RaiseVirq(int vcpu, uint virq)
    {
        lock (_lock)
        {
            var target = Virq.IsPerVcpu(virq) ? vcpu : 0;
            var port = _virqPorts[target, virq];
            if (port != 0)
                SetPendingLocked(port, _slots[port].NotifyVcpu);
        }
    }

    /// <summary>A back end signals the guest on its interdomain port.</summary>
    public void NotifyFromBackend(uint port)
    {
        lock (_lock)
        {
            if (port < _slots.Length && _slots[port].Status == EventChannelStatus.Interdomain)
                SetPendingLocked(port, _slots[port].NotifyVcpu);
        }
    }

    public bool IsPending(uint port) =>
        port < _slots.Length && GuestBitmaps.Test(_memory, PendingWord(port), _layout.WordBytes, BitOf(port));

    public bool IsMasked(uint port) =>
        port < _slots.Length && GuestBitmaps.Test(_memory, MaskWord(port), _layout.WordBytes, BitOf(port));

    public uint VirqPort(int vcpu, uint virq)
    {
        lock (_lock)
            return _virqPorts[vcpu, virq];
    }

    // evtchn_2l_set_pending: pending bit, then (if unmasked) selector bit, then upcall_pending, then a kick.
    private void SetPendingLocked(uint port, int vcpu)
    {
        if (GuestBitmaps.TestAndSet(_memory, PendingWord(port), _layout.WordBytes, BitOf(port)))
            return;
        // Linux's PV spinlocks poll a masked IPI port: the poller must wake although no upcall is raised.
        if (GuestBitmaps.Test(_memory, MaskWord(port), _layout.WordBytes, BitOf(port)))
            _vcpus.WakeIfPolling(vcpu);
        else
            MarkSelectorAndUpcall(port, vcpu);
    }

    private void MarkSelectorAndUpcall(uint port, int vcpu, bool checkMask = false)
    {
        if (checkMask && GuestBitmaps.Test(_memory, MaskWord(port), _layout.WordBytes, BitOf(port)))
            return;
        var vcpuInfo = _vcpus.VcpuInfoAddress(vcpu);
        var selectorBit = (int)(port / (uint)_layout.BitsPerWord);
        if (GuestBitmaps.TestAndSet(_memory, vcpuInfo + (ulong)_layout.PendingSelOffset, _layout.WordBytes, selectorBit))
            return;
        _memory.GetSpan(vcpuInfo + SharedInfoLayout.UpcallPendingOffset, 1)[0] = 1;
        _vcpus.Kick(vcpu);
    }

    private int FindFreePort()
    {
        for (var port = 1; port < _slots.Length; port++)
        {
            if (_slots[port].Status == EventChannelStatus.Closed && !_slots[port].Reserved)
                return port;
        }
        return -1;
    }

    private GuestPhysicalAddress PendingWord(uint port) =>
        _sharedInfo + (ulong)(_layout.EvtchnPendingOffset + (int)(port / (uint)_layout.BitsPerWord) * _layout.WordBytes);

    private GuestPhysicalAddress MaskWord(uint port) =>
        _sharedInfo + (ulong)(_layout.EvtchnMaskOffset + (int)(port / (uint)_layout.BitsPerWord) * _layout.WordBytes);

    private int BitOf(uint port) => (int)(port % (uint)_layout.BitsPerWord);
}
