using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Discovery;

/// <summary>
/// Which decoded instructions become candidate sites: those whose code some rule anchors on, and for rules that
/// anchor only on LOCK-prefixed forms, only when the prefix is there (a kernel has far more unlocked
/// read-modify-write instructions than locked ones, and none of them is such a rule's site).
/// </summary>
internal sealed class AnchorTable
{
    private const byte None = 0, LockedOnly = 1, Any = 2;
    private readonly byte[] _kinds = new byte[Enum.GetValues<Code>().Length];

    public AnchorTable(IEnumerable<IPatchRule> rules)
    {
        _kinds[(int)Code.Out_imm8_EAX] = Any; // already-patched gates are reported and kept in the guard set
        foreach (var rule in rules)
        {
            var kind = rule.AnchorsNeedLockPrefix ? LockedOnly : Any;
            foreach (var code in rule.AnchorCodes)
                _kinds[(int)code] = Math.Max(_kinds[(int)code], kind);
        }
    }

    public bool IsAnchor(in Instruction instruction) =>
        _kinds[(int)instruction.Code] switch
        {
            None => false,
            LockedOnly => instruction.HasLockPrefix,
            _ => true,
        };
}
