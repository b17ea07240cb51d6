namespace Shim.Core.Exits;

/// <summary>Short human-readable descriptions of monitor traps for error messages.</summary>
public static class TrapNames
{
    public static string Mnemonic(int vector) => vector switch
    {
        0 => "#DE", 1 => "#DB", 2 => "NMI", 3 => "#BP", 4 => "#OF", 5 => "#BR", 6 => "#UD", 7 => "#NM", 8 => "#DF",
        10 => "#TS", 11 => "#NP", 12 => "#SS", 13 => "#GP", 14 => "#PF", 16 => "#MF", 17 => "#AC", 18 => "#MC",
        19 => "#XM", 20 => "#VE", 21 => "#CP",
        _ => $"int 0x{vector:x2}",
    };

    public static string Describe(TrapExit trap) =>
        $"{Mnemonic(trap.Vector)} at {trap.Frame.Cs:x4}:0x{trap.Frame.Rip:x} (cpl {trap.Frame.Cpl}, rflags 0x{trap.Frame.Rflags:x})"
        + (trap.ErrorCode is { } code ? $" error 0x{code:x}" : "")
        + (trap.FaultAddress is { } cr2 ? $" address 0x{cr2:x}" : "");
}
