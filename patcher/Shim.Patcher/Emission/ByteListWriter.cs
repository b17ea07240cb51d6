using Iced.Intel;

namespace Shim.Patcher.Emission;

internal sealed class ByteListWriter : CodeWriter
{
    public List<byte> Bytes { get; } = [];

    public override void WriteByte(byte value) => Bytes.Add(value);
}
