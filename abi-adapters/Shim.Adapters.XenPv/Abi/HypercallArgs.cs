namespace Shim.Adapters.XenPv.Abi;

/// <summary>
/// The five hypercall arguments, zero-extended to 64 bits (pv64: RDI RSI RDX R10 R8; pv32: EBX ECX EDX ESI EDI).
/// </summary>
public readonly record struct HypercallArgs(ulong A1, ulong A2, ulong A3, ulong A4, ulong A5);
