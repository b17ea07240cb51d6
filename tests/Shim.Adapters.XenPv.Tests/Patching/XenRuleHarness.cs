using Iced.Intel;
using Serilog.Core;
using Shim.Adapters.XenPv.Patching;
using Shim.Core.Gates;
using Shim.Patcher;
using Shim.Patcher.Contracts;
using Shim.Patcher.Discovery;

namespace Shim.Adapters.XenPv.Tests.Patching;

/// <summary>Assembles snippets and runs the real engine with the Xen rules over them.</summary>
internal static class XenRuleHarness
{
    public const ulong Base = 0xffffffff81000000;
    public const ulong Base32 = 0xc1000000;

    /// <summary>Slot 3 (port 0xE3), not the Xen default, to show the port is a parameter.</summary>
    public static readonly GatePort Gate = GatePort.ForAdapterSlot(3);

    public static byte[] Assemble(int bitness, ulong rip, Action<Assembler> build)
    {
        var assembler = new Assembler(bitness);
        build(assembler);
        var writer = new Writer();
        assembler.Assemble(writer, rip);
        return writer.Bytes.ToArray();
    }

    public static PatchResult Patch(byte[] code, int bitness = 64, SweepMode sweep = SweepMode.RewriteProvenSignatures, params ulong[] entries)
    {
        var start = bitness == 64 ? Base : Base32;
        var region = new CodeRegion("text", start, code, executable: true, bitness);
        return Patch(new PatchInput { Regions = [region], EntryPoints = entries.Length == 0 ? [start] : entries }, sweep);
    }

    public static PatchResult Patch(PatchInput input, SweepMode sweep = SweepMode.RewriteProvenSignatures) =>
        new PatchEngine(new PatchEngineOptions { Sweep = sweep }, XenPvPatchRules.Create(Gate), Logger.None).Patch(input);

    /// <summary>The mnemonics of 64-bit code at <see cref="Base"/>, decoded one after another.</summary>
    public static List<Mnemonic> Mnemonics(byte[] code) => [.. Decode(code, Base).Select(i => i.Mnemonic)];

    /// <summary>64-bit code at <paramref name="ip"/>, decoded one instruction after another.</summary>
    public static List<Instruction> Decode(byte[] code, ulong ip)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(code), ip);
        var instructions = new List<Instruction>();
        while (decoder.IP < ip + (ulong)code.Length)
            instructions.Add(decoder.Decode());
        return instructions;
    }

    private sealed class Writer : CodeWriter
    {
        public List<byte> Bytes { get; } = [];

        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
