using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Discovery;

/// <summary>
/// Finds instructions: recursive descent from the roots over executable regions (only reachable flow is
/// decoded), then optionally a linear sweep over the bytes descent never reached, at lower confidence.
/// Collects branch targets (to know which addresses other code lands on) and the candidate sites.
/// </summary>
internal sealed class CodeDiscovery
{
    private const int MaxInstructionLength = 15;

    private readonly RegionMap _regions;
    private readonly AnchorTable _anchors;
    private readonly IReadOnlyList<IFlowContinuationRule> _continuations;
    private readonly List<CandidateSite> _candidates = [];
    private readonly Stack<ulong> _work = new();
    private readonly RegisterConstants _constants = new();
    private long _reached, _reachedBytes, _swept, _rootsOutside, _decodeFailures, _overlaps;

    public CodeDiscovery(RegionMap regions, AnchorTable anchors, IReadOnlyList<IFlowContinuationRule> continuations)
    {
        _regions = regions;
        _anchors = anchors;
        _continuations = continuations;
    }

    public IReadOnlyList<CandidateSite> Candidates => _candidates;

    public DiscoveryStatistics Statistics => new()
    {
        ReachedInstructions = _reached,
        ReachedBytes = _reachedBytes,
        SweptInstructions = _swept,
        RootsOutsideCode = _rootsOutside,
        DecodeFailures = _decodeFailures,
        OverlappingDecodes = _overlaps,
    };

    public void Descend(IEnumerable<ulong> roots)
    {
        foreach (var root in roots)
        {
            var state = _regions.Find(root);
            if (state is null || !state.Region.Executable)
            {
                _rootsOutside++;
                continue;
            }
            state.BranchTargets.Set(state.OffsetOf(root));
            _work.Push(root);
        }

        while (_work.Count > 0)
        {
            var address = _work.Pop();
            var state = _regions.Find(address);
            if (state is not null)
                DecodeRun(state, address);
        }
    }

    public void Sweep()
    {
        foreach (var state in _regions.All)
        {
            // Only regions where reachable flow proved code: an executable-flagged blob nothing reaches (GRUB's
            // embedded module images) is data as far as this image's own execution goes.
            if (!state.Region.Executable || state.ReachedInstructions == 0)
                continue;
            var bytes = state.Region.Bytes;
            var (decoder, reader) = state.Decoder;
            var reached = state.ReachedBytes;
            var offset = reached.NextClear(0);
            var nextReached = reached.NextSet(offset);
            while (offset < bytes.Count)
            {
                reader.Position = offset;
                decoder.IP = state.Region.VirtualAddress + (ulong)offset;
                decoder.Decode(out var instruction);
                var end = offset + instruction.Length;
                if (instruction.IsInvalid || end > nextReached)
                {
                    // Data, padding, or a misaligned view of reached code: resynchronise one byte later.
                    offset = reached.NextClear(offset + 1);
                    nextReached = reached.NextSet(offset);
                    continue;
                }
                state.SweepStarts.Set(offset);
                _swept++;
                if (_anchors.IsAnchor(instruction))
                    _candidates.Add(new CandidateSite(state, instruction.IP, SiteConfidence.Low));
                // Sweep targets are recorded too: treating a spurious target as real only makes rewriting more cautious.
                if (instruction.FlowControl is FlowControl.ConditionalBranch or FlowControl.UnconditionalBranch or FlowControl.Call
                    && IsNearBranch(instruction))
                    MarkTarget(state, instruction.NearBranchTarget);
                offset = end;
                if (offset == nextReached)
                {
                    offset = reached.NextClear(offset);
                    nextReached = reached.NextSet(offset);
                }
            }
        }
    }

    private void DecodeRun(RegionState state, ulong address)
    {
        var region = state.Region;
        var (decoder, reader) = state.Decoder;
        var constants = _constants;
        constants.Clear();

        while (region.Contains(address))
        {
            var offset = state.OffsetOf(address);
            if (state.ReachedStarts[offset])
                return;
            if (state.ReachedBytes[offset])
                _overlaps++; // flow lands inside an instruction decoded earlier: overlapping code (reported via boundary checks)

            reader.Position = offset;
            decoder.IP = address;
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid)
            {
                _decodeFailures++;
                return;
            }

            state.ReachedStarts.Set(offset);
            state.ReachedBytes.SetRange(offset, instruction.Length);
            _reached++;
            state.ReachedInstructions++;
            _reachedBytes += instruction.Length;
            if (_anchors.IsAnchor(instruction))
                _candidates.Add(new CandidateSite(state, address, SiteConfidence.High));

            var next = instruction.NextIP;
            switch (instruction.FlowControl)
            {
                case FlowControl.Next:
                    if (instruction.Code == Code.Hlt)
                        return;
                    constants.Observe(instruction);
                    break;
                case FlowControl.ConditionalBranch:
                    Follow(instruction);
                    break;
                case FlowControl.UnconditionalBranch:
                    Follow(instruction);
                    return;
                case FlowControl.Call:
                    Follow(instruction);
                    constants.Clear();
                    break;
                case FlowControl.IndirectBranch:
                    FollowConstantRegister(instruction, constants);
                    return;
                case FlowControl.IndirectCall:
                    FollowConstantRegister(instruction, constants);
                    constants.Clear();
                    break;
                case FlowControl.Return:
                    return;
                case FlowControl.Interrupt:
                    if (instruction.Code is Code.Int3 or Code.Int1)
                        return;
                    break;
                case FlowControl.Exception:
                    var continuation = ContinuationLength(state, instruction);
                    if (continuation == 0)
                        return;
                    state.ReachedBytes.SetRange(offset, continuation);
                    next = address + (ulong)continuation;
                    break;
                default:
                    constants.Clear();
                    break;
            }
            address = next;
        }
    }

    private int ContinuationLength(RegionState state, in Instruction instruction)
    {
        var offset = state.OffsetOf(instruction.IP);
        var available = Math.Min(MaxInstructionLength * 2, state.Region.Bytes.Count - offset);
        var bytes = state.Region.Bytes.AsSpan(offset, available);
        foreach (var rule in _continuations)
        {
            var length = rule.ContinuationLength(instruction, bytes);
            if (length > 0 && length <= available)
                return length;
        }
        return 0;
    }

    private void Follow(in Instruction instruction)
    {
        if (IsNearBranch(instruction))
            Push(instruction.NearBranchTarget);
    }

    /// <summary>
    /// Large-code-model compilers (GRUB's x86_64 build) call through <c>movabs $f,%reg; call *%reg</c>: a constant
    /// loaded into the register in the same straight-line run is a direct call in disguise.
    /// </summary>
    private void FollowConstantRegister(in Instruction instruction, RegisterConstants constants)
    {
        if (instruction.Op0Kind == OpKind.Register && constants.TryGet(instruction.Op0Register, out var target))
            Push(target);
    }

    private void Push(ulong target)
    {
        var state = _regions.Find(target);
        if (state is null || !state.Region.Executable)
            return;
        var offset = state.OffsetOf(target);
        state.BranchTargets.Set(offset);
        if (!state.ReachedStarts[offset])
            _work.Push(target);
    }

    private void MarkTarget(RegionState current, ulong target)
    {
        if (current.Region.Contains(target))
        {
            current.BranchTargets.Set(current.OffsetOf(target));
            return;
        }
        var state = _regions.Find(target);
        if (state is not null && state.Region.Executable)
            state.BranchTargets.Set(state.OffsetOf(target));
    }

    private static bool IsNearBranch(in Instruction instruction) =>
        instruction.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64;
}
