namespace Shim.Adapters.XenPv.Abi;

/// <summary>
/// Guest-virtual memory through the vCPU's current page tables, as hypercall handlers see pointer arguments.
/// Every access is checked (translation, present, user/supervisor as the guest mode requires, the hypervisor hole):
/// a false return means the guest gets -EFAULT, never a VMM exception.
/// </summary>
public interface IGuestVirtualMemory
{
    bool TryRead(ulong virtualAddress, Span<byte> destination);

    bool TryWrite(ulong virtualAddress, ReadOnlySpan<byte> source);
}
