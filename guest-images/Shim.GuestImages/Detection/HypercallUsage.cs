namespace Shim.GuestImages.Detection;

/// <summary>The ways the image's code enters the hypervisor, with counts from a linear Iced scan of executable segments.</summary>
public sealed record HypercallUsage(
    ulong? HypercallPageAddress,
    int InlineSyscallCount,
    int InlineInt82Count,
    ulong ScannedBytes)
{
    public bool HasHypercallPageNote => HypercallPageAddress is not null;

    /// <summary>Short names of the mechanisms found: "hypercall-page", "syscall", "int 0x82".</summary>
    public IReadOnlyList<string> Mechanisms =>
        new[] { (HasHypercallPageNote, "hypercall-page"), (InlineSyscallCount > 0, "syscall"), (InlineInt82Count > 0, "int 0x82") }
            .Where(m => m.Item1).Select(m => m.Item2).ToList();
}
