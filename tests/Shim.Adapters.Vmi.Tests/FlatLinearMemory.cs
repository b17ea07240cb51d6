using Shim.Adapters.Vmi.Calls;

namespace Shim.Adapters.Vmi.Tests;

/// <summary>Unit-level fake: linear addresses [base, base+size) map to one array; anything else is unmapped.</summary>
internal sealed class FlatLinearMemory(uint linearBase, int size) : IGuestLinearMemory
{
    public byte[] Bytes { get; } = new byte[size];

    public bool TryRead(uint linear, Span<byte> destination)
    {
        if (!TryOffset(linear, destination.Length, out var offset))
            return false;
        Bytes.AsSpan(offset, destination.Length).CopyTo(destination);
        return true;
    }

    public bool TryWrite(uint linear, ReadOnlySpan<byte> source)
    {
        if (!TryOffset(linear, source.Length, out var offset))
            return false;
        source.CopyTo(Bytes.AsSpan(offset));
        return true;
    }

    private bool TryOffset(uint linear, int length, out int offset)
    {
        var relative = (long)linear - linearBase;
        offset = (int)relative;
        return relative >= 0 && relative + length <= Bytes.Length;
    }
}
