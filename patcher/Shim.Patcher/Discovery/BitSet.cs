using System.Numerics;

namespace Shim.Patcher.Discovery;

/// <summary>One bit per byte of a region: cheap enough for a 16 MiB kernel text (2 MiB per set).</summary>
internal sealed class BitSet(int length)
{
    private readonly ulong[] _words = new ulong[(length + 63) >> 6];

    public int Length { get; } = length;

    public bool this[int index] => (uint)index < (uint)Length && (_words[index >> 6] & (1UL << index)) != 0;

    public void Set(int index) => _words[index >> 6] |= 1UL << index;

    public void SetRange(int start, int count)
    {
        var end = Math.Min(start + count, Length);
        for (var i = start; i < end; i++)
            _words[i >> 6] |= 1UL << i;
    }

    public bool AnySetIn(int start, int count)
    {
        var end = Math.Min(start + count, Length);
        for (var i = Math.Max(start, 0); i < end; i++)
            if ((_words[i >> 6] & (1UL << i)) != 0)
                return true;
        return false;
    }

    /// <summary>Index of the first set bit at or after <paramref name="start"/>, or <see cref="Length"/>.</summary>
    public int NextSet(int start)
    {
        var i = start;
        while (i < Length)
        {
            var word = _words[i >> 6] >> (i & 63);
            if (word != 0)
                return Math.Min(i + BitOperations.TrailingZeroCount(word), Length);
            i = (i | 63) + 1;
        }
        return Length;
    }

    /// <summary>Index of the first clear bit at or after <paramref name="start"/>, or <see cref="Length"/>.</summary>
    public int NextClear(int start)
    {
        var i = start;
        while (i < Length)
        {
            var word = ~_words[i >> 6] >> (i & 63);
            if (word != 0)
                return Math.Min(i + BitOperations.TrailingZeroCount(word), Length);
            i = (i | 63) + 1;
        }
        return Length;
    }
}
