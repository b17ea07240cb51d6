using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Hypercalls;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Time;

/// <summary>RUNSTATE_* (public/vcpu.h).</summary>
public enum Runstate
{
    Running = 0,
    Runnable = 1,
    Blocked = 2,
    Offline = 3,
}

/// <summary>
/// Keeps each vCPU's vcpu_runstate_info (state, entry time, time spent per state) and mirrors it into the area the
/// guest registered (pv64: state @0, entry @8, time[4] @16; pv32: @0, @4, @12). With VMASST runstate_update_flag the
/// entry time carries XEN_RUNSTATE_UPDATE (bit 63) while the record is being rewritten.
/// </summary>
public sealed class RunstateTracker
{
    private const ulong UpdateFlag = 1UL << 63;
    private readonly XenDomain _domain;
    private readonly IXenClock _clock;
    private readonly Entry[] _entries;

    private sealed class Entry
    {
        public Runstate State;
        public ulong EntryTime;
        public readonly ulong[] Times = new ulong[4];
    }

    public RunstateTracker(XenDomain domain, IXenClock clock)
    {
        _domain = domain;
        _clock = clock;
        _entries = new Entry[domain.VcpuCount];
        for (var i = 0; i < _entries.Length; i++)
            _entries[i] = new Entry { State = domain.Vcpus[i].IsUp ? Runstate.Running : Runstate.Offline };
    }

    public Runstate StateOf(int vcpu) => _entries[vcpu].State;

    public ulong TimeIn(int vcpu, Runstate state) => _entries[vcpu].Times[(int)state];

    public void Change(XenVcpu vcpu, Runstate next)
    {
        var entry = _entries[vcpu.VcpuId];
        var now = _clock.SystemTimeNs;
        if (now > entry.EntryTime)
            entry.Times[(int)entry.State] += now - entry.EntryTime;
        entry.State = next;
        entry.EntryTime = now;
        Publish(vcpu);
    }

    /// <summary>
    /// VCPUOP_register_runstate_memory_area: remember the area and fill it at once. A NULL handle unregisters. For
    /// another vCPU (Linux registers a secondary's area before it ever runs) Xen fills it through the caller's
    /// address space and ignores a failed copy.
    /// </summary>
    public long Register(XenVcpu caller, XenVcpu target, ulong area)
    {
        target.RunstateAreaAddress = area;
        if (target != caller)
        {
            if (area != 0)
                Write(caller, _entries[target.VcpuId], area, withUpdateFlag: false);
            return 0;
        }
        return area == 0 || Publish(target) ? 0 : XenErrno.Result(XenErrno.EFAULT);
    }

    /// <summary>VCPUOP_get_runstate_info: the same record written to <paramref name="destination"/>.</summary>
    public bool WriteInfo(XenVcpu caller, int vcpu, ulong destination) => Write(caller, _entries[vcpu], destination, withUpdateFlag: false);

    /// <summary>Writes the record into the registered area; Xen only updates it through guest-kernel page tables.</summary>
    public bool Publish(XenVcpu vcpu)
    {
        var area = vcpu.RunstateAreaAddress;
        if (area == 0 || !vcpu.InKernelMode)
            return true;
        var flag = _domain.VmAssist.IsEnabled(VmAssistType.RunstateUpdateFlag);
        return Write(vcpu, _entries[vcpu.VcpuId], area, flag);
    }

    private bool Write(XenVcpu vcpu, Entry entry, ulong address, bool withUpdateFlag)
    {
        var memory = vcpu.Memory;
        var pv64 = vcpu.Width == XenGuestWidth.Pv64;
        var entryOffset = pv64 ? 8UL : 4UL;
        var timesOffset = pv64 ? 16UL : 12UL;
        if (withUpdateFlag && !memory.TryWriteUInt64(address + entryOffset, entry.EntryTime | UpdateFlag))
            return false;
        if (!memory.TryWriteUInt32(address, (uint)entry.State))
            return false;
        for (var i = 0; i < entry.Times.Length; i++)
        {
            if (!memory.TryWriteUInt64(address + timesOffset + (ulong)(i * 8), entry.Times[i]))
                return false;
        }
        return memory.TryWriteUInt64(address + entryOffset, entry.EntryTime);
    }
}
