namespace Shim.Core.Flat;

/// <summary>How a flat test program is entered: CPU mode and privilege level.</summary>
public enum FlatMode
{
    Long64Cpl3,
    Long64Cpl0,
    Compat32Cpl3,
    Compat32Cpl1,
}

public static class FlatModeNames
{
    private static readonly Dictionary<string, FlatMode> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["long64-cpl3"] = FlatMode.Long64Cpl3,
        ["long64-cpl0"] = FlatMode.Long64Cpl0,
        ["compat32-cpl3"] = FlatMode.Compat32Cpl3,
        ["compat32-cpl1"] = FlatMode.Compat32Cpl1,
    };

    public static IEnumerable<string> All => ByName.Keys;

    public static bool TryParse(string name, out FlatMode mode) => ByName.TryGetValue(name, out mode);

    public static string Name(FlatMode mode) => ByName.First(entry => entry.Value == mode).Key;
}
