namespace Shim.Adapters.Vmi.Rom;

/// <summary>An entry of the ROM that leaves through the gate: Init, or one VMI call.</summary>
public readonly record struct VmiRomEntry(bool IsInit, VmiCall Call)
{
    public static VmiRomEntry Init => new(true, default);

    public static VmiRomEntry ForCall(VmiCall call) => new(false, call);

    public override string ToString() => IsInit ? "Init" : Call.ToString();
}
