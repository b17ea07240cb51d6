namespace Shim.Patcher.Contracts;

/// <summary>A function entry the image names (symbol table, loader knowledge): a recursive-descent root.</summary>
public readonly record struct KnownFunction(string Name, ulong Address);

/// <summary>
/// An address the image itself declares to be an instruction boundary in code, e.g. a <c>.parainstructions</c>
/// entry or a caller of a hypercall page: a recursive-descent root. A non-zero <paramref name="GuestPatchedLength"/>
/// says the guest rewrites [Address, Address + length) itself at boot (Linux's paravirt patching), so the
/// patcher must not rewrite anything there: the guest would overwrite it.
/// </summary>
public readonly record struct KnownCodeAddress(ulong Address, string Source, int GuestPatchedLength = 0);

/// <summary>A guest-virtual range the core reserves for trampolines (relocated displaced instructions).</summary>
public readonly record struct TrampolineArea(ulong BaseAddress, int Size);

/// <summary>
/// What the patcher needs from an image, independent of the loader: regions, roots for recursive descent and
/// optional site tables. The lead maps a loader's guest descriptor onto this.
/// </summary>
public sealed record PatchInput
{
    public required IReadOnlyList<CodeRegion> Regions { get; init; }
    public IReadOnlyList<ulong> EntryPoints { get; init; } = [];
    public IReadOnlyList<KnownFunction> Functions { get; init; } = [];
    public IReadOnlyList<KnownCodeAddress> SiteTable { get; init; } = [];
    public TrampolineArea? Trampolines { get; init; }
}
