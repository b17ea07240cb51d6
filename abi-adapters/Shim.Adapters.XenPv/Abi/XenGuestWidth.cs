namespace Shim.Adapters.XenPv.Abi;

/// <summary>Which Xen PV ABI a guest speaks: structure layouts and register conventions differ.</summary>
public enum XenGuestWidth
{
    /// <summary>x86_64 PV: kernel and user at CPL3, hypercalls by syscall, 8-byte longs.</summary>
    Pv64,

    /// <summary>x86_32 PAE PV in compatibility mode: kernel at CPL1, hypercalls by int $0x82, 4-byte longs.</summary>
    Pv32Pae,
}
