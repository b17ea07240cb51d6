namespace Shim.Core.Dispatch;

/// <summary>Devices registered on non-overlapping address ranges [start, start + length).</summary>
public sealed class AddressRangeBus<TDevice> where TDevice : class
{
    private readonly List<(ulong Start, ulong Length, TDevice Device)> _ranges = [];

    public void Register(ulong start, ulong length, TDevice device)
    {
        if (length == 0 || start + length < start)
            throw new ArgumentException($"invalid range 0x{start:x}+0x{length:x}");
        if (_ranges.Any(r => start < r.Start + r.Length && r.Start < start + length))
            throw new ArgumentException($"range 0x{start:x}+0x{length:x} overlaps a registered device");
        _ranges.Add((start, length, device));
    }

    /// <summary>The device covering <paramref name="address"/> and the address's offset inside its range.</summary>
    public bool TryFind(ulong address, out TDevice device, out ulong offset)
    {
        foreach (var range in _ranges)
        {
            if (address - range.Start < range.Length)
            {
                device = range.Device;
                offset = address - range.Start;
                return true;
            }
        }
        device = null!;
        offset = 0;
        return false;
    }
}
