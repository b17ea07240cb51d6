namespace Shim.Core.Memory;

/// <summary>
/// Guest memory backed by a managed array: for building and inspecting guest layouts without a VM
/// (offline patching, dry runs) and for unit tests. KVM guests use the mmap-backed implementation.
/// </summary>
public sealed class ManagedGuestMemory(ulong size) : IGuestMemory
{
    private readonly byte[] _bytes = new byte[checked((int)size)];

    public ulong Size => (ulong)_bytes.Length;

    public bool Contains(GuestPhysicalAddress address, ulong length) =>
        address.Value <= Size && length <= Size - address.Value;

    public bool TryGetSpan(GuestPhysicalAddress address, int length, out Span<byte> span)
    {
        if (length < 0 || !Contains(address, (ulong)length))
        {
            span = default;
            return false;
        }
        span = _bytes.AsSpan((int)address.Value, length);
        return true;
    }

    public void Zero(GuestPhysicalAddress address, ulong length)
    {
        if (!Contains(address, length))
            throw new GuestMemoryAccessException(address, length, Size);
        _bytes.AsSpan((int)address.Value, (int)length).Clear();
    }
}
