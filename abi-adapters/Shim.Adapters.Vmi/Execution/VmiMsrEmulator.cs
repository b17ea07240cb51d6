using Shim.Adapters.Vmi.Calls;
using Shim.Core.Cpu;

namespace Shim.Adapters.Vmi.Execution;

/// <summary>
/// RDMSR/WRMSR stay native in the ROM's answers (Linux never asks for them) and so raise #GP at the kernel's ring 1.
/// The shim completes them here for the MSRs a VMI kernel writes — the SYSENTER trio, kept virtual because the
/// real ones belong to the monitor and SYSEXIT needs the guest's SYSENTER_CS — and lets every other MSR fault
/// into the guest, as a CPU without that MSR would.
/// </summary>
public sealed class VmiMsrEmulator(IGuestLinearMemory linear)
{
    public const uint SysenterCs = 0x174;
    public const uint SysenterEsp = 0x175;
    public const uint SysenterEip = 0x176;

    private readonly Dictionary<uint, ulong> _values = new() { [SysenterCs] = 0, [SysenterEsp] = 0, [SysenterEip] = 0 };

    public long Emulated { get; private set; }

    public ushort GuestSysenterCs => (ushort)_values[SysenterCs];

    /// <summary>Completes a RDMSR/WRMSR at <paramref name="eip"/>; false leaves the #GP for the guest.</summary>
    public bool TryEmulate(uint eip, ref VcpuRegisters registers)
    {
        Span<byte> code = stackalloc byte[2];
        if (!linear.TryRead(eip, code) || code[0] != 0x0F || code[1] is not (0x30 or 0x32))
            return false;
        var index = (uint)registers.Rcx;
        if (!_values.TryGetValue(index, out var value))
            return false;
        if (code[1] == 0x30)
        {
            _values[index] = (uint)registers.Rax | (ulong)(uint)registers.Rdx << 32;
        }
        else
        {
            registers.Rax = (uint)value;
            registers.Rdx = value >> 32;
        }
        registers.Rip = eip + 2u;
        Emulated++;
        return true;
    }
}
