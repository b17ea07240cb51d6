using Shim.Patcher.Contracts;

namespace Shim.Patcher;

public enum SiteStatus
{
    /// <summary>The site was rewritten and the result verified.</summary>
    Rewritten,

    /// <summary>A rule recognised the site but it was left alone; <see cref="SiteRecord.Reason"/> says why.</summary>
    Skipped,

    /// <summary>The site already holds a gate instruction (patching patched code is a no-op).</summary>
    AlreadyPatched,

    /// <summary>An anchor instruction no rule claimed (e.g. a <c>syscall</c> without a proven hypercall number).</summary>
    Unmatched,
}

public enum RewriteKind
{
    None,
    InPlace,
    Trampoline,
}

/// <summary>One candidate site and what happened to it.</summary>
public sealed record SiteRecord
{
    public required ulong Address { get; init; }
    public required string Region { get; init; }
    public required string RuleId { get; init; }
    public required string Pattern { get; init; }
    public required SiteConfidence Confidence { get; init; }
    public required SiteStatus Status { get; init; }
    public RewriteKind Kind { get; init; }
    public string Reason { get; init; } = "";

    /// <summary>Rewritten range (whole original instructions); 0 when nothing was planned.</summary>
    public int Length { get; init; }
    public byte[] OriginalBytes { get; init; } = [];
    public byte[] PatchedBytes { get; init; } = [];
}

/// <summary>Bytes to write at a guest-virtual address (a rewritten site or the trampoline block).</summary>
public sealed record ByteWrite(ulong Address, byte[] Original, byte[] Patched);
