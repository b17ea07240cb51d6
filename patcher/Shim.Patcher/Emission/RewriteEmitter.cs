using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Emission;

/// <summary>
/// Encodes a plan in place when it fits, otherwise as <c>jmp trampoline</c> at the site and the replacement plus
/// <c>jmp back</c> in the trampoline area, relocating copied instructions with Iced's BlockEncoder.
/// </summary>
internal sealed class RewriteEmitter(TrampolineArea? area)
{
    private ulong _used;

    public ulong TrampolineBytesUsed => _used;

    /// <returns>null with <paramref name="reason"/> set when the plan cannot be emitted.</returns>
    public EmittedRewrite? Emit(RewritePlan plan, int bitness, out string reason)
    {
        if (!TryEncode(bitness, plan.Replacement, plan.Start, out var inPlace, out reason))
            return null;
        if (inPlace.Length <= plan.Length)
        {
            var site = new byte[plan.Length];
            inPlace.CopyTo(site, 0);
            NopPadding.Fill(site.AsSpan(inPlace.Length), bitness);
            return new EmittedRewrite(RewriteKind.InPlace, site, 0, []);
        }
        return EmitTrampoline(plan, bitness, inPlace.Length, out reason);
    }

    private EmittedRewrite? EmitTrampoline(RewritePlan plan, int bitness, int inPlaceLength, out string reason)
    {
        var jumpLength = bitness == 16 ? 3 : 5;
        if (area is not { } trampolines)
        {
            reason = $"replacement needs {inPlaceLength} bytes, site has {plan.Length}, and no trampoline area was given";
            return null;
        }
        if (plan.Length < jumpLength)
        {
            reason = $"replacement needs {inPlaceLength} bytes, site has {plan.Length}: too short even for a {jumpLength}-byte jump to a trampoline";
            return null;
        }

        var address = trampolines.BaseAddress + _used;
        var body = new List<Instruction>(plan.Replacement) { Instruction.CreateBranch(NearJump(bitness), plan.End) };
        if (!TryEncode(bitness, body, address, out var block, out reason))
            return null;
        if (_used + (ulong)block.Length > (ulong)trampolines.Size)
        {
            reason = $"trampoline area full ({trampolines.Size} bytes)";
            return null;
        }
        if (!TryEncode(bitness, [Instruction.CreateBranch(NearJump(bitness), address)], plan.Start, out var jump, out reason))
            return null;
        if (jump.Length > plan.Length)
        {
            reason = $"jump to trampoline at 0x{address:x} needs {jump.Length} bytes, site has {plan.Length}";
            return null;
        }

        var site = new byte[plan.Length];
        jump.CopyTo(site, 0);
        site.AsSpan(jump.Length).Fill(0xCC); // never executed: the jump leaves the range
        _used += (ulong)block.Length;
        return new EmittedRewrite(RewriteKind.Trampoline, site, address, block);
    }

    private static Code NearJump(int bitness) => bitness switch
    {
        64 => Code.Jmp_rel32_64,
        32 => Code.Jmp_rel32_32,
        _ => Code.Jmp_rel16,
    };

    private static bool TryEncode(int bitness, IReadOnlyList<Instruction> instructions, ulong rip, out byte[] bytes, out string reason)
    {
        bytes = [];
        reason = "";
        if (instructions.Count == 0)
            return true;
        var writer = new ByteListWriter();
        var block = new InstructionBlock(writer, instructions.ToArray(), rip);
        if (!BlockEncoder.TryEncode(bitness, block, out var error, out _))
        {
            reason = $"cannot encode replacement at 0x{rip:x}: {error}";
            return false;
        }
        bytes = writer.Bytes.ToArray();
        return true;
    }
}
