using Iced.Intel;

namespace Shim.Patcher.Contracts;

/// <summary>Collects what Iced's encoders write: the engine's emitter and rules that check an encoding both use it.</summary>
public sealed class ByteListWriter : CodeWriter
{
    public List<byte> Bytes { get; } = [];

    public override void WriteByte(byte value) => Bytes.Add(value);
}
