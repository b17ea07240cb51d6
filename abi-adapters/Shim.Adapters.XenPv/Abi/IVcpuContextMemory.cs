namespace Shim.Adapters.XenPv.Abi;

/// <summary>
/// The memory side of VCPUOP_initialise: the page-table roots, GDT frames and LDT of a vcpu_guest_context take
/// their references and are loaded for <paramref name="target"/> exactly as NEW_BASEPTR, set_gdt and SET_LDT would.
/// </summary>
public interface IVcpuContextMemory
{
    /// <returns>0, or a negated Xen errno with nothing taken.</returns>
    long Load(IXenCallContext target, in VcpuMemoryContext context);
}

/// <summary>The memory-management fields of a vcpu_guest_context (machine frames, as the guest passed them).</summary>
public readonly record struct VcpuMemoryContext(ulong KernelRoot, ulong UserRoot, ulong[] GdtFrames, uint GdtEntries, ulong LdtBase, uint LdtEntries);
