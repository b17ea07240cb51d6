namespace Shim.Patcher.Contracts;

/// <summary>
/// A contiguous range of guest-virtual memory as the image will place it. Only executable regions are ever
/// decoded; non-executable ones exist so that branch targets into data can be recognised and ignored. The bytes may
/// be a window on a larger array (a section of the loaded image): the patcher reads them and never keeps a copy.
/// </summary>
public sealed class CodeRegion
{
    public CodeRegion(string name, ulong virtualAddress, ArraySegment<byte> bytes, bool executable, int bitness)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(bytes.Array, nameof(bytes));
        if (bitness is not (16 or 32 or 64))
            throw new ArgumentOutOfRangeException(nameof(bitness), bitness, "bitness must be 16, 32 or 64");
        if (bytes.Count > 0 && virtualAddress > ulong.MaxValue - (ulong)bytes.Count + 1)
            throw new ArgumentOutOfRangeException(nameof(virtualAddress), "region wraps the address space");
        Name = name;
        VirtualAddress = virtualAddress;
        Bytes = bytes;
        Executable = executable;
        Bitness = bitness;
    }

    public string Name { get; }
    public ulong VirtualAddress { get; }
    public ArraySegment<byte> Bytes { get; }
    public bool Executable { get; }
    public int Bitness { get; }

    /// <summary>One past the last address (exclusive).</summary>
    public ulong EndAddress => VirtualAddress + (ulong)Bytes.Count;

    public bool Contains(ulong address) => address >= VirtualAddress && address - VirtualAddress < (ulong)Bytes.Count;

    public bool Contains(ulong address, int length) =>
        Contains(address) && (ulong)length <= EndAddress - address;
}
