using Shim.Patcher.Contracts;

namespace Shim.Patcher.Discovery;

/// <summary>Finds the region holding an address (regions sorted by address, overlap rejected).</summary>
internal sealed class RegionMap
{
    private readonly RegionState[] _states;
    private readonly ulong[] _starts;

    public RegionMap(IEnumerable<CodeRegion> regions)
    {
        _states = regions.Where(r => r.Bytes.Count > 0).OrderBy(r => r.VirtualAddress).Select(r => new RegionState(r)).ToArray();
        for (var i = 1; i < _states.Length; i++)
            if (_states[i].Region.VirtualAddress < _states[i - 1].Region.EndAddress)
                throw new PatchInputException($"regions '{_states[i - 1].Region.Name}' and '{_states[i].Region.Name}' overlap at 0x{_states[i].Region.VirtualAddress:x}");
        _starts = _states.Select(s => s.Region.VirtualAddress).ToArray();
    }

    public IReadOnlyList<RegionState> All => _states;

    public RegionState? Find(ulong address)
    {
        var index = Array.BinarySearch(_starts, address);
        if (index < 0)
            index = ~index - 1;
        return index >= 0 && _states[index].Region.Contains(address) ? _states[index] : null;
    }
}
