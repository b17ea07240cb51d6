using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>One E820 entry (struct e820entry: u64 addr, u64 size, u32 type; 20 bytes packed).</summary>
public readonly record struct E820Entry(ulong Address, ulong Size, uint Type)
{
    public const uint Ram = 1;
    public const int WireSize = 20;
}

public sealed record MemoryOpOptions
{
    /// <summary>
    /// The map XENMEM_memory_map returns. Null (the default) answers -ENOSYS, as Xen does for a PV domU whose
    /// toolstack set no map; Linux then assumes one RAM region of nr_pages.
    /// </summary>
    public IReadOnlyList<E820Entry>? MemoryMap { get; init; }

    /// <summary>Highest machine frame + 1 (XENMEM_maximum_ram_page); Shim's machine frames are the guest's frames.</summary>
    public ulong MaximumRamPage { get; init; }

    /// <summary>
    /// What XENMEM_machphys_mapping reports. Null answers Xen's architectural range; the domain builder passes the
    /// M2P it actually backs, so a guest never reads entries past it (Linux bounds mfn_to_pfn by max_mfn).
    /// </summary>
    public Memory.MachPhysMapping? MachphysMapping { get; init; }
}

/// <summary>
/// memory_op(cmd, arg), the subset a PV domU uses at boot: reservation queries, the M2P location, the memory map.
/// Reservation changes (increase/decrease/populate/exchange) are passed to <paramref name="reservations"/> when the
/// memory side provides one; without it, increase and populate allocate nothing (the domain is at max_pages, so Xen
/// would return 0 extents too) and decrease/exchange are -ENOSYS.
/// </summary>
public sealed class MemoryOpHypercall(MemoryOpOptions options, IHypercallHandler? reservations = null) : XenPvHypercallHandler
{
    public const uint IncreaseReservation = 0;
    public const uint DecreaseReservation = 1;
    public const uint MaximumRamPage = 2;
    public const uint CurrentReservation = 3;
    public const uint MaximumReservation = 4;
    public const uint MachphysMfnList = 5;
    public const uint PopulatePhysmap = 6;
    public const uint AddToPhysmap = 7;
    public const uint MemoryMap = 9;
    public const uint MachineMemoryMap = 10;
    public const uint Exchange = 11;
    public const uint MachphysMapping = 12;
    public const uint SetMemoryMap = 13;
    public const uint MaximumGpfn = 14;

    /// <summary>MEMOP_CMD_MASK: the low 6 bits select the command, the rest is a continuation start extent.</summary>
    private const ulong CommandMask = (1 << 6) - 1;

    public const ulong Pv64MachphysStart = 0xffff800000000000;
    public const ulong Pv64MachphysEnd = 0xffff804000000000;
    public const ulong Pv32MachphysStart = 0xF5800000;
    public const ulong Pv32MachphysEnd = 0xFFE00000;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        var domain = vcpu.Domain;
        var arg = args.A2;
        var command = (uint)(args.A1 & CommandMask);
        switch (command)
        {
            case IncreaseReservation or PopulatePhysmap or DecreaseReservation or Exchange when reservations is not null:
                return reservations.Handle(vcpu, args);
            case IncreaseReservation or PopulatePhysmap:
                return ValidateReservation(vcpu, arg);
            case DecreaseReservation or Exchange or MachphysMfnList:
                return Errno(XenErrno.ENOSYS);
            case MaximumRamPage:
                return (long)options.MaximumRamPage;
            case CurrentReservation or MaximumReservation or MaximumGpfn:
                if (!vcpu.Memory.TryReadUInt16(arg, out var domid))
                    return Errno(XenErrno.EFAULT);
                if (!domain.IsSelf(domid))
                    return Errno(XenErrno.ESRCH);
                return command switch
                {
                    CurrentReservation => (long)domain.Options.NrPages,
                    MaximumReservation => (long)domain.Options.MaxPages,
                    _ => (long)domain.Options.NrPages - 1,
                };
            case MachphysMapping:
                return WriteMachphysMapping(vcpu, arg, options.MachphysMapping);
            case MemoryMap:
                return WriteMemoryMap(vcpu, arg);
            case AddToPhysmap:
                // Only translated (HVM/PVH) guests have a physmap to add to.
                return Errno(XenErrno.EACCES);
            case MachineMemoryMap or SetMemoryMap:
                return Errno(XenErrno.EPERM);
            default:
                return Errno(XenErrno.ENOSYS);
        }
    }

    private static long ValidateReservation(XenVcpu vcpu, ulong arg)
    {
        var pv64 = vcpu.Width == XenGuestWidth.Pv64;
        var domidOffset = pv64 ? 24UL : 16UL;
        if (!vcpu.Memory.TryReadUInt16(arg + domidOffset, out var domid))
            return Errno(XenErrno.EFAULT);
        return vcpu.Domain.IsSelf(domid) ? 0 : Errno(XenErrno.ESRCH);
    }

    private static long WriteMachphysMapping(XenVcpu vcpu, ulong arg, Memory.MachPhysMapping? backed)
    {
        var pv64 = vcpu.Width == XenGuestWidth.Pv64;
        var (start, end, entryBytes) = pv64 ? (Pv64MachphysStart, Pv64MachphysEnd, 8UL) : (Pv32MachphysStart, Pv32MachphysEnd, 4UL);
        var maxMfn = (end - start) / entryBytes - 1;
        if (backed is { } mapping)
            (start, end, maxMfn) = (mapping.VirtualStart, mapping.VirtualEnd, mapping.MaxMfn);
        var size = (ulong)vcpu.Width.NativeSize();
        var ok = vcpu.Memory.TryWriteNative(vcpu.Width, arg, start) &&
                 vcpu.Memory.TryWriteNative(vcpu.Width, arg + size, end) &&
                 vcpu.Memory.TryWriteNative(vcpu.Width, arg + 2 * size, maxMfn);
        return ok ? 0 : Errno(XenErrno.EFAULT);
    }

    private long WriteMemoryMap(XenVcpu vcpu, ulong arg)
    {
        var map = options.MemoryMap;
        if (map is null)
            return Errno(XenErrno.ENOSYS);
        var memory = vcpu.Memory;
        var handleOffset = vcpu.Width == XenGuestWidth.Pv64 ? 8UL : 4UL;
        if (!memory.TryReadUInt32(arg, out var capacity) || !memory.TryReadNative(vcpu.Width, arg + handleOffset, out var buffer))
            return Errno(XenErrno.EFAULT);
        var count = (int)Math.Min(capacity, (uint)map.Count);
        Span<byte> entry = stackalloc byte[E820Entry.WireSize];
        for (var i = 0; i < count; i++)
        {
            BitConverter.TryWriteBytes(entry, map[i].Address);
            BitConverter.TryWriteBytes(entry[8..], map[i].Size);
            BitConverter.TryWriteBytes(entry[16..], map[i].Type);
            if (!memory.TryWrite(buffer + (ulong)(i * E820Entry.WireSize), entry))
                return Errno(XenErrno.EFAULT);
        }
        return memory.TryWriteUInt32(arg, (uint)count) ? 0 : Errno(XenErrno.EFAULT);
    }
}
