using Iced.Intel;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;
using Shim.Patcher.Emission;

namespace Shim.Patcher;

/// <summary>Turns candidates into site records: asks rules, checks plans against discovery, emits, verifies.</summary>
internal sealed class PatchSession
{
    private const string EngineRuleId = "engine";
    private const int MaxInstructionLength = 15;
    private readonly PatchEngineOptions _options;
    private readonly IReadOnlyList<IPatchRule> _rules;
    private readonly RewriteEmitter _emitter;
    private readonly SiteWindowBuilder _windows;
    private readonly List<(ulong Start, ulong End)> _accepted = [];
    private readonly IReadOnlyList<(ulong Start, ulong End, string Source)> _guestPatched;

    public PatchSession(PatchEngineOptions options, IReadOnlyList<IPatchRule> rules, RewriteEmitter emitter,
        IReadOnlyList<(ulong Start, ulong End, string Source)> guestPatched)
    {
        _guestPatched = guestPatched;
        _options = options;
        _rules = rules;
        _emitter = emitter;
        _windows = new SiteWindowBuilder(options.WindowBefore, options.WindowAfter);
    }

    public List<SiteRecord> Sites { get; } = [];
    public List<ByteWrite> Writes { get; } = [];
    public List<ulong> GateSites { get; } = [];

    public void Process(CandidateSite candidate)
    {
        var state = candidate.State;
        var anchor = DecodeAt(state, candidate.Address);
        var record = new SiteRecord
        {
            Address = candidate.Address,
            Region = state.Region.Name,
            RuleId = EngineRuleId,
            Pattern = anchor.ToString(),
            Confidence = candidate.Confidence,
            Status = SiteStatus.Unmatched,
        };

        var context = new SiteContext(anchor, () => _windows.Build(state, candidate.Address), candidate.Confidence, state.Region.Bitness, state.Region.Name,
            new RegionView(state));
        foreach (var rule in _rules)
        {
            if (!rule.AnchorCodes.Contains(anchor.Code) || (rule.AnchorsNeedLockPrefix && !anchor.HasLockPrefix))
                continue;
            var match = rule.Match(context);
            if (!match.Recognised)
                continue;
            var recognised = record with { RuleId = rule.Id, Pattern = match.Pattern };
            if (match.AlreadyApplied && GateInstructions.IsGate(anchor))
            {
                GateSites.Add(anchor.NextIP);
                Sites.Add(recognised with { Status = SiteStatus.AlreadyPatched, Reason = match.Reason });
            }
            else
            {
                Sites.Add(match.Plan is null
                    ? recognised with { Status = SiteStatus.Skipped, Reason = match.Reason }
                    : Apply(recognised, state, candidate, match.Plan));
            }
            return;
        }

        if (!GateInstructions.IsGate(anchor))
            return; // no rule's site: not reported
        if (candidate.Confidence == SiteConfidence.High)
        {
            GateSites.Add(anchor.NextIP);
            Sites.Add(record with { Pattern = "gate", Status = SiteStatus.AlreadyPatched, Reason = "gate instruction in reached code" });
        }
        else
        {
            Sites.Add(record with { Pattern = "gate", Reason = "gate-port out found only by linear sweep and proven by no rule: not a gate site" });
        }
    }

    private SiteRecord Apply(SiteRecord record, RegionState state, CandidateSite candidate, RewritePlan plan)
    {
        var region = state.Region;
        var skipped = record with { Status = SiteStatus.Skipped, Length = plan.Length };
        if (plan.Length <= 0 || !region.Contains(plan.Start, plan.Length) || candidate.Address < plan.Start || candidate.Address >= plan.End)
            return skipped with { Reason = $"rule planned range 0x{plan.Start:x}+{plan.Length} that does not hold the site inside region '{region.Name}'" };
        var original = region.Bytes.AsSpan(state.OffsetOf(plan.Start), plan.Length).ToArray();
        skipped = skipped with { OriginalBytes = original };

        if (candidate.Confidence == SiteConfidence.Low)
        {
            if (_options.Sweep == SweepMode.ReportOnly)
                return skipped with { Reason = "found by linear sweep, which is report-only" };
            if (!plan.ProvenBySignature)
                return skipped with { Reason = "found by linear sweep only and the pattern does not prove itself" };
        }
        if (_accepted.FirstOrDefault(r => r.Start < plan.End && plan.Start < r.End) is { End: > 0 } other)
            return skipped with { Reason = $"overlaps the rewrite at 0x{other.Start:x}" };
        if (_guestPatched.FirstOrDefault(r => r.Start < plan.End && plan.Start < r.End) is { End: > 0 } guest)
            return skipped with { Reason = $"overlaps 0x{guest.Start:x}+{guest.End - guest.Start}, which the guest rewrites itself ({guest.Source})" };
        if (!BoundariesAgree(state, plan, out var reason))
            return skipped with { Reason = reason };

        var emitted = _emitter.Emit(plan, region.Bitness, out reason);
        if (emitted is null)
            return skipped with { Reason = reason };
        var gates = new List<ulong>();
        if (!RewriteVerifier.Verify(plan, emitted, region.Bitness, gates, out reason))
            return skipped with { Reason = "verification failed: " + reason };

        _accepted.Add((plan.Start, plan.End));
        GateSites.AddRange(gates);
        Writes.Add(new ByteWrite(plan.Start, original, emitted.SiteBytes));
        if (emitted.Kind == RewriteKind.Trampoline)
            Writes.Add(new ByteWrite(emitted.TrampolineAddress, [], emitted.TrampolineBytes));
        return record with
        {
            Status = SiteStatus.Rewritten,
            Kind = emitted.Kind,
            Length = plan.Length,
            OriginalBytes = original,
            PatchedBytes = emitted.SiteBytes,
        };
    }

    /// <summary>
    /// The range must consist of whole instructions that agree with what discovery decoded, and nothing but its
    /// first byte may be a branch target (flow landing inside would execute half-rewritten bytes).
    /// </summary>
    private static bool BoundariesAgree(RegionState state, RewritePlan plan, out string reason)
    {
        var region = state.Region;
        var (decoder, reader) = state.Decoder;
        var startOffset = state.OffsetOf(plan.Start);
        for (var back = 1; back <= MaxInstructionLength && back <= startOffset; back++)
        {
            if (!state.IsKnownStart(startOffset - back))
                continue;
            reader.Position = startOffset - back;
            decoder.IP = plan.Start - (ulong)back;
            decoder.Decode(out var enclosing);
            if (!enclosing.IsInvalid && enclosing.Length > back)
                return Fail($"instruction at 0x{enclosing.IP:x} overlaps the range start 0x{plan.Start:x} (overlapping code)", out reason);
        }
        var address = plan.Start;
        while (address < plan.End)
        {
            var offset = state.OffsetOf(address);
            reader.Position = offset;
            decoder.IP = address;
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid)
                return Fail($"undecodable bytes at 0x{address:x} inside the planned range", out reason);
            for (var inner = 1; inner < instruction.Length; inner++)
            {
                if (state.BranchTargets[offset + inner])
                    return Fail($"branch target 0x{address + (ulong)inner:x} falls inside instruction 0x{address:x}", out reason);
                if (state.IsKnownStart(offset + inner))
                    return Fail($"another decode has an instruction start at 0x{address + (ulong)inner:x} inside 0x{address:x} (overlapping code)", out reason);
            }
            if (address != plan.Start && state.BranchTargets[offset])
                return Fail($"branch target 0x{address:x} falls inside the rewritten range", out reason);
            address = instruction.NextIP;
        }
        if (address != plan.End)
            return Fail($"planned range ends at 0x{plan.End:x} inside the instruction ending at 0x{address:x}", out reason);
        reason = "";
        return true;
    }

    private static Instruction DecodeAt(RegionState state, ulong address)
    {
        var (decoder, reader) = state.Decoder;
        reader.Position = state.OffsetOf(address);
        decoder.IP = address;
        decoder.Decode(out var instruction);
        return instruction;
    }

    private static bool Fail(string message, out string reason)
    {
        reason = message;
        return false;
    }

    private sealed class RegionView(RegionState state) : ISiteImage
    {
        public bool IsBranchTarget(ulong address) =>
            state.Region.Contains(address) && state.BranchTargets[state.OffsetOf(address)];

        public ReadOnlySpan<byte> Bytes(ulong address, int length)
        {
            if (!state.Region.Contains(address) || length <= 0)
                return [];
            var offset = state.OffsetOf(address);
            return state.Region.Bytes.AsSpan(offset, Math.Min(length, state.Region.Bytes.Count - offset));
        }
    }
}
