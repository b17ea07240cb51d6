using System.Runtime.InteropServices;
using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.Contracts.Patching;

/// <summary>
/// Applies a Linux kernel's own uniprocessor alternatives at load time: every LOCK prefix its <c>.smp_locks</c>
/// lists in <c>.text</c> becomes the DS prefix Linux itself would write there on one CPU (see
/// <see cref="LinuxSmpLocks"/>). Linux skips a site that no longer holds 0xF0, so the kernel's boot-time pass, one
/// <c>text_poke</c> per site, finds nothing left to do: on Xen-PV each poke costs two <c>mmu_update</c>s and two
/// CR3 switches, about 35,000 exits for a Debian 6.1 kernel.
/// PRECONDITION: offer this rule only for a guest that has one vCPU for its whole life and whose command line lacks
/// <c>noreplace-smp</c>; a second CPU needs these locks (Linux re-locks only the sites it unlocked itself).
/// </summary>
public sealed class LinuxUniprocessorLockRule(IReadOnlySet<ulong> lockSites) : IPatchRule
{
    public const string RuleId = "linux.uniprocessor-locks";

    private static readonly Code[] LockableCodes =
        [.. Enum.GetValues<Code>().Where(code => code != Code.INVALID && code.ToOpCode() is { IsInstruction: true, CanUseLockPrefix: true })];

    public string Id => RuleId;

    public IReadOnlyCollection<Code> AnchorCodes { get; } = new HashSet<Code>(LockableCodes);

    public bool AnchorsNeedLockPrefix => true;

    /// <summary>The rule for an input: the <c>.smp_locks</c> sites its site table lists.</summary>
    public static LinuxUniprocessorLockRule For(PatchInput input) =>
        new(input.SiteTable.Where(s => s.Source == LinuxSmpLocks.SectionName).Select(s => s.Address).ToHashSet());

    /// <summary>
    /// Whether the rule may be offered: the guest can never have more than one vCPU and its command line does not
    /// keep Linux from unlocking (<c>noreplace-smp</c>).
    /// </summary>
    public static bool AppliesTo(int maxVcpus, string commandLine) =>
        maxVcpus == 1 && !commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("noreplace-smp", StringComparer.Ordinal);

    public RuleMatch Match(SiteContext site)
    {
        var anchor = site.Anchor;
        if (!lockSites.Contains(anchor.IP))
            return RuleMatch.NotMine("LOCK prefix not listed in .smp_locks");
        const string pattern = "lock (.smp_locks)";
        var original = site.Bytes(anchor.IP, anchor.Length);
        if (original.Length != anchor.Length || original[0] != LinuxSmpLocks.LockPrefix)
            return RuleMatch.Refuse(pattern, "the listed byte is not a leading 0xF0");
        var unlocked = anchor;
        unlocked.HasLockPrefix = false;
        unlocked.SegmentPrefix = Register.DS;
        // The result must be Linux's own bytes (only the first byte changed), not merely an equivalent encoding.
        if (!EncodesAs(unlocked, site.Bitness, original))
            return RuleMatch.Refuse(pattern, "re-encoding with a DS prefix does not reproduce the instruction's other bytes");
        return RuleMatch.Rewrite(pattern, new RewritePlan(anchor.IP, anchor.Length, [unlocked]));
    }

    private static bool EncodesAs(in Instruction instruction, int bitness, ReadOnlySpan<byte> original)
    {
        var writer = new ByteListWriter();
        if (!Encoder.Create(bitness, writer).TryEncode(instruction, instruction.IP, out var length, out _) || length != original.Length)
            return false;
        return writer.Bytes[0] == LinuxSmpLocks.DsPrefix && CollectionsMarshal.AsSpan(writer.Bytes)[1..].SequenceEqual(original[1..]);
    }
}
