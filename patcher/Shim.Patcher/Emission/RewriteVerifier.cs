using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Emission;

/// <summary>
/// Re-decodes emitted bytes: the site must tile the rewritten range exactly and decode to the planned
/// instructions (or to a jump into the trampoline), and the trampoline must decode to the plan plus a jump back.
/// Also yields the gate sites (address after each gate <c>out</c>) the bytes contain.
/// </summary>
internal static class RewriteVerifier
{
    public static bool Verify(RewritePlan plan, EmittedRewrite emitted, int bitness, List<ulong> gateSites, out string reason)
    {
        var site = Decode(emitted.SiteBytes, plan.Start, bitness);
        if (!Tiles(site, plan.Start, plan.End, out reason))
            return false;

        var planned = plan.Replacement.Select(i => i.Mnemonic).ToList();
        var found = new List<ulong>();
        if (emitted.Kind == RewriteKind.InPlace)
        {
            var meaningful = site.Take(CountWithoutTrailingNops(site, planned.Count)).ToList();
            if (!meaningful.Select(i => i.Mnemonic).SequenceEqual(planned))
                return Fail($"re-decoded site [{Describe(meaningful)}] differs from the plan", out reason);
            found.AddRange(meaningful.Where(i => GateInstructions.IsGate(i)).Select(i => i.NextIP));
        }
        else
        {
            if (site.Count == 0 || site[0].Mnemonic != Mnemonic.Jmp || site[0].NearBranchTarget != emitted.TrampolineAddress)
                return Fail($"site does not start with a jump to the trampoline at 0x{emitted.TrampolineAddress:x}", out reason);
            var block = Decode(emitted.TrampolineBytes, emitted.TrampolineAddress, bitness);
            var blockEnd = emitted.TrampolineAddress + (ulong)emitted.TrampolineBytes.Length;
            if (!Tiles(block, emitted.TrampolineAddress, blockEnd, out reason))
                return false;
            if (!block.Take(block.Count - 1).Select(i => i.Mnemonic).SequenceEqual(planned))
                return Fail($"trampoline [{Describe(block)}] differs from the plan", out reason);
            var back = block[^1];
            if (back.Mnemonic != Mnemonic.Jmp || back.NearBranchTarget != plan.End)
                return Fail($"trampoline does not end with a jump back to 0x{plan.End:x}", out reason);
            found.AddRange(block.Where(i => GateInstructions.IsGate(i)).Select(i => i.NextIP));
        }
        gateSites.AddRange(found);
        return true;
    }

    private static int CountWithoutTrailingNops(List<Instruction> site, int planned)
    {
        var count = site.Count;
        while (count > planned && site[count - 1].Mnemonic == Mnemonic.Nop)
            count--;
        return count;
    }

    private static bool Tiles(List<Instruction> instructions, ulong start, ulong end, out string reason)
    {
        var expected = start;
        foreach (var instruction in instructions)
        {
            if (instruction.IsInvalid || instruction.IP != expected)
                return Fail($"re-decode lost instruction alignment at 0x{expected:x}", out reason);
            expected = instruction.NextIP;
        }
        if (expected != end)
            return Fail($"re-decoded instructions end at 0x{expected:x}, not at the range end 0x{end:x}", out reason);
        reason = "";
        return true;
    }

    private static List<Instruction> Decode(byte[] bytes, ulong ip, int bitness)
    {
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes), ip);
        var list = new List<Instruction>();
        var end = ip + (ulong)bytes.Length;
        while (decoder.IP < end)
        {
            decoder.Decode(out var instruction);
            list.Add(instruction);
            if (instruction.IsInvalid)
                break;
        }
        return list;
    }

    private static string Describe(IEnumerable<Instruction> instructions) => string.Join("; ", instructions.Select(i => i.ToString()));

    private static bool Fail(string message, out string reason)
    {
        reason = message;
        return false;
    }
}
