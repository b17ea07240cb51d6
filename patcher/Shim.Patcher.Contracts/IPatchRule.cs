using Iced.Intel;

namespace Shim.Patcher.Contracts;

/// <summary>
/// A rewrite rule supplied by an adapter. The engine decodes the image and calls <see cref="Match"/> only for
/// instructions whose Iced <see cref="Code"/> is one of <see cref="AnchorCodes"/>; the rule decides whether the
/// site is its pattern and plans the rewrite. The engine owns emission, trampolines and verification.
/// </summary>
public interface IPatchRule
{
    /// <summary>Stable identifier, used in reports and in the patch cache key: change it when behaviour changes.</summary>
    string Id { get; }

    IReadOnlyCollection<Code> AnchorCodes { get; }

    /// <summary>
    /// True when only the LOCK-prefixed forms of <see cref="AnchorCodes"/> are this rule's anchors: discovery then
    /// skips the unlocked ones, which in a kernel outnumber the locked ones by far.
    /// </summary>
    bool AnchorsNeedLockPrefix => false;

    RuleMatch Match(SiteContext site);
}

/// <summary>
/// Implemented by rules that know an ABI pseudo-instruction which looks like a flow stop to a decoder but is
/// not one (Xen's forced-emulation prefix starts with <c>ud2</c>). Discovery asks these rules before stopping.
/// </summary>
public interface IFlowContinuationRule
{
    /// <summary>
    /// Number of bytes from the start of <paramref name="anchor"/> at which execution really continues, or 0 if
    /// the bytes are not such a pseudo-instruction. <paramref name="bytes"/> starts at the anchor (may be short
    /// at a region end).
    /// </summary>
    int ContinuationLength(in Instruction anchor, ReadOnlySpan<byte> bytes);
}
