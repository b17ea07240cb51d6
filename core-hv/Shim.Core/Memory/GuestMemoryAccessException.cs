namespace Shim.Core.Memory;

/// <summary>A VMM-internal access outside guest memory: a layout bug, not guest misbehaviour.</summary>
public sealed class GuestMemoryAccessException(GuestPhysicalAddress address, ulong length, ulong size)
    : Exception($"guest-physical access {address}+0x{length:x} is outside guest memory (size 0x{size:x})")
{
    public GuestPhysicalAddress Address { get; } = address;
    public ulong Length { get; } = length;
}
