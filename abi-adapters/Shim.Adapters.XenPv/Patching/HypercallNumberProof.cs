using Iced.Intel;
using Shim.Patcher.Contracts;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>
/// Proves that a trapping instruction is a hypercall by finding, on the straight-line path before it, the
/// instruction that last wrote EAX and checking that it loads a constant hypercall number. A branch target
/// between that load and the trap breaks the proof (another path could arrive with another EAX), and so does
/// a call, return, jump or software interrupt (the callee or handler may change EAX).
/// </summary>
internal static class HypercallNumberProof
{
    /// <summary>Xen's NR_hypercalls: numbers at or above it are never hypercalls, e.g. vDSO system-call numbers.</summary>
    public const uint HypercallLimit = 64;

    public static bool TryProve(SiteContext site, out uint number, out string reason)
    {
        var factory = new InstructionInfoFactory();
        number = 0;
        for (var index = site.AnchorIndex - 1; index >= 0; index--)
        {
            var candidate = site.Window[index];
            var successor = site.Window[index + 1];
            if (site.IsBranchTarget(successor.IP))
                return Fail($"flow joins at 0x{successor.IP:x} between the hypercall number and the trap", out reason);
            if (candidate.FlowControl is not (FlowControl.Next or FlowControl.ConditionalBranch))
                return Fail($"'{candidate}' between the hypercall number and the trap may change EAX", out reason);
            if (!WritesEax(factory, candidate))
                continue;
            if (!IsConstantLoad(candidate, out number))
                return Fail($"EAX last set by '{candidate}', not by a constant", out reason);
            if (number >= HypercallLimit)
                return Fail($"EAX = {number} is not a hypercall number (limit {HypercallLimit})", out reason);
            reason = "";
            return true;
        }
        return Fail("no instruction setting EAX on the straight-line path before the trap", out reason);
    }

    private static bool WritesEax(InstructionInfoFactory factory, in Instruction instruction)
    {
        foreach (var used in factory.GetInfo(instruction).GetUsedRegisters())
        {
            if (used.Register.GetFullRegister() == Register.RAX
                && used.Access is OpAccess.Write or OpAccess.CondWrite or OpAccess.ReadWrite or OpAccess.ReadCondWrite)
                return true;
        }
        return false;
    }

    private static bool IsConstantLoad(in Instruction instruction, out uint value)
    {
        value = 0;
        if (instruction.Mnemonic != Mnemonic.Mov || instruction.Op0Kind != OpKind.Register || instruction.Op1Kind is not (OpKind.Immediate32 or OpKind.Immediate32to64 or OpKind.Immediate64))
            return false;
        if (instruction.Op0Register is not (Register.EAX or Register.RAX))
            return false;
        var immediate = instruction.Op1Kind == OpKind.Immediate32 ? instruction.Immediate32 : instruction.Immediate64;
        if (immediate > uint.MaxValue)
            return false;
        value = (uint)immediate;
        return true;
    }

    private static bool Fail(string message, out string reason)
    {
        reason = message;
        return false;
    }
}
