namespace Shim.Core.Gates;

/// <summary>
/// The cheapest gate from guest code to the VMM: <c>out %eax, $port</c> (bytes <c>E7 ib</c>, two bytes, the
/// same length as <c>syscall</c> and <c>int $0x82</c>, so the patcher can rewrite those in place). The port
/// names the adapter that owns the gate; EAX names the call (its meaning belongs to the adapter). The core
/// routes a gate exit by port alone and knows nothing of the call numbers.
/// </summary>
public readonly record struct GatePort(byte Port)
{
    /// <summary>Ports 0xE0..0xEF are reserved for adapter gates; guests never see devices there.</summary>
    public const byte First = 0xE0;
    public const byte Last = 0xEF;

    public static GatePort ForAdapterSlot(int slot) =>
        slot is >= 0 and <= Last - First
            ? new GatePort((byte)(First + slot))
            : throw new ArgumentOutOfRangeException(nameof(slot), slot, $"adapter gate slots are 0..{Last - First}");

    public static bool IsGatePort(ushort port) => port is >= First and <= Last;

    public int AdapterSlot => Port - First;

    public override string ToString() => $"gate:0x{Port:x2}";
}
