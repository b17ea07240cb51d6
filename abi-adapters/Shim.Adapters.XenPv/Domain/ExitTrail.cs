using System.Globalization;
using System.Text;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// The last few exits a vCPU handled (what, where, which call or vector), kept in a fixed ring so recording costs a
/// few stores per exit. Printed when a run times out: it tells a guest blocked for good from one spinning through
/// the same exits, and where. Repeats of the same exit are counted, not stored, so a guest that sits in one loop
/// does not wipe out what led there.
/// </summary>
internal sealed class ExitTrail(int capacity = 24)
{
    private readonly (char Kind, ulong Rip, ulong Detail, long Repeats)[] _entries = new (char, ulong, ulong, long)[capacity];
    private long _count;

    /// <summary>Records a hypercall (<c>H</c>, detail = call number), trap (<c>T</c>, vector) or event (<c>E</c>, source).</summary>
    public void Record(char kind, ulong rip, ulong detail)
    {
        if (_count > 0)
        {
            ref var last = ref _entries[(_count - 1) % _entries.Length];
            if (last.Kind == kind && last.Rip == rip && last.Detail == detail)
            {
                last.Repeats++;
                return;
            }
        }
        _entries[_count % _entries.Length] = (kind, rip, detail, 0);
        _count++;
    }

    /// <summary>Oldest first, hex, e.g. <c>H1d@ffffffff81001234x40 Td@...</c>; empty when nothing was recorded.</summary>
    public string Describe()
    {
        var text = new StringBuilder();
        var first = Math.Max(0, _count - _entries.Length);
        for (var i = first; i < _count; i++)
        {
            var (kind, rip, detail, repeats) = _entries[i % _entries.Length];
            if (text.Length > 0)
                text.Append(' ');
            text.Append(CultureInfo.InvariantCulture, $"{kind}{detail:x}@{rip:x}");
            if (repeats > 0)
                text.Append(CultureInfo.InvariantCulture, $"x{repeats + 1}");
        }
        return text.ToString();
    }
}
