using Iced.Intel;
using Serilog;
using Serilog.Core;
using Shim.Patcher.Contracts;

namespace Shim.Patcher.Tests;

/// <summary>Hand-assembled code for tests, built with Iced's assembler at a chosen address.</summary>
internal static class Snippet
{
    public static readonly ILogger Log = Logger.None;

    public static byte[] Assemble(int bitness, ulong rip, Action<Assembler> build)
    {
        var assembler = new Assembler(bitness);
        build(assembler);
        var writer = new Writer();
        assembler.Assemble(writer, rip);
        return writer.Bytes.ToArray();
    }

    public static PatchInput Input(CodeRegion region, params ulong[] entries) => new() { Regions = [region], EntryPoints = entries };

    public static byte[] Read(IReadOnlyList<CodeRegion> regions, ulong address, int length)
    {
        var region = regions.Single(r => r.Contains(address, length));
        return region.Bytes.AsSpan((int)(address - region.VirtualAddress), length).ToArray();
    }

    public static List<Instruction> Decode(byte[] bytes, ulong ip, int bitness = 64)
    {
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes), ip);
        var list = new List<Instruction>();
        while (decoder.IP < ip + (ulong)bytes.Length)
            list.Add(decoder.Decode());
        return list;
    }

    private sealed class Writer : CodeWriter
    {
        public List<byte> Bytes { get; } = [];

        public override void WriteByte(byte value) => Bytes.Add(value);
    }
}
