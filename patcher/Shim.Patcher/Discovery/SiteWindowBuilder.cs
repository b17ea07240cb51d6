using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Discovery;

/// <summary>
/// Decodes the contiguous instructions around a candidate: backwards along known instruction starts (each one
/// ending exactly where the next begins), forwards by plain decoding.
/// </summary>
internal sealed class SiteWindowBuilder(int before, int after)
{
    private const int MaxInstructionLength = 15;

    public (IReadOnlyList<Instruction> Window, int AnchorIndex) Build(RegionState state, ulong anchor)
    {
        var region = state.Region;
        var (decoder, reader) = state.Decoder;

        var preceding = new List<Instruction>();
        var cursor = state.OffsetOf(anchor);
        while (preceding.Count < before && TryDecodePrevious(state, decoder, reader, cursor, out var previous))
        {
            preceding.Add(previous);
            cursor -= previous.Length;
        }
        preceding.Reverse();

        var window = preceding;
        var anchorIndex = window.Count;
        var offset = state.OffsetOf(anchor);
        for (var i = 0; i <= after && offset < region.Bytes.Count; i++)
        {
            Decode(decoder, reader, region, offset, out var instruction);
            if (instruction.IsInvalid)
                break;
            window.Add(instruction);
            offset += instruction.Length;
        }
        return (window, anchorIndex);
    }

    private static bool TryDecodePrevious(RegionState state, Decoder decoder, ByteArrayCodeReader reader, int end, out Instruction previous)
    {
        for (var distance = 1; distance <= MaxInstructionLength && distance <= end; distance++)
        {
            if (!state.IsKnownStart(end - distance))
                continue;
            Decode(decoder, reader, state.Region, end - distance, out previous);
            if (!previous.IsInvalid && previous.Length == distance)
                return true;
        }
        previous = default;
        return false;
    }

    private static void Decode(Decoder decoder, ByteArrayCodeReader reader, CodeRegion region, int offset, out Instruction instruction)
    {
        reader.Position = offset;
        decoder.IP = region.VirtualAddress + (ulong)offset;
        decoder.Decode(out instruction);
    }
}
