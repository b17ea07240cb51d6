using Shim.Core.Memory;

namespace Shim.Adapters.Vmi.Execution;

/// <summary>
/// Guest RAM only: the machine's memory also holds the monitor and the shadow tables above RAM, which no address
/// a VMI guest supplies (a PAE entry can name frames above 4 GiB) may ever reach.
/// </summary>
internal sealed class RamOnlyMemory(IGuestMemory machine, ulong ramBytes) : IGuestMemory
{
    public ulong Size => ramBytes;

    public bool Contains(GuestPhysicalAddress address, ulong length) =>
        address.Value <= ramBytes && length <= ramBytes - address.Value && machine.Contains(address, length);

    public bool TryGetSpan(GuestPhysicalAddress address, int length, out Span<byte> span)
    {
        if (length < 0 || !Contains(address, (ulong)length))
        {
            span = default;
            return false;
        }
        return machine.TryGetSpan(address, length, out span);
    }

    public void Zero(GuestPhysicalAddress address, ulong length)
    {
        if (!Contains(address, length))
            throw new GuestMemoryAccessException(address, length, Size);
        machine.Zero(address, length);
    }
}
