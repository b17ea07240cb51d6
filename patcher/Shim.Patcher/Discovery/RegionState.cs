using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Discovery;

/// <summary>What discovery learned about one executable region.</summary>
internal sealed class RegionState(CodeRegion region)
{
    public CodeRegion Region { get; } = region;

    /// <summary>Instruction starts reached by recursive descent.</summary>
    public BitSet ReachedStarts { get; } = new(region.Bytes.Count);

    /// <summary>Every byte belonging to a reached instruction (or an ABI pseudo-instruction).</summary>
    public BitSet ReachedBytes { get; } = new(region.Bytes.Count);

    /// <summary>Instruction starts found only by the linear-sweep fallback.</summary>
    public BitSet SweepStarts { get; } = new(region.Bytes.Count);

    /// <summary>Addresses some flow lands on: entries, symbols, table entries, branch and call targets.</summary>
    public BitSet BranchTargets { get; } = new(region.Bytes.Count);

    public long ReachedInstructions { get; set; }

    /// <summary>One decoder per region, repositioned for each run (creating one per branch target is costly).</summary>
    public (Decoder Decoder, ByteArrayCodeReader Reader) Decoder => _decoder ??= CreateDecoder();

    private (Decoder, ByteArrayCodeReader)? _decoder;

    private (Decoder, ByteArrayCodeReader) CreateDecoder()
    {
        var reader = new ByteArrayCodeReader(Region.Bytes);
        return (Iced.Intel.Decoder.Create(Region.Bitness, reader), reader);
    }

    public int OffsetOf(ulong address) => checked((int)(address - Region.VirtualAddress));

    public bool IsKnownStart(int offset) => ReachedStarts[offset] || SweepStarts[offset];
}
