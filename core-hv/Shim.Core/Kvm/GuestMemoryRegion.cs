using Shim.Core.Memory;

namespace Shim.Core.Kvm;

/// <summary>One KVM memory slot: anonymous host memory mapped at a guest-physical range.</summary>
public sealed class GuestMemoryRegion : IDisposable
{
    private nint _host;

    internal GuestMemoryRegion(int slot, GuestPhysicalAddress start, ulong size, nint host, string name)
    {
        Slot = slot;
        Start = start;
        Size = size;
        _host = host;
        Name = name;
    }

    public int Slot { get; }
    public GuestPhysicalAddress Start { get; }
    public ulong Size { get; }
    public string Name { get; }
    public GuestPhysicalAddress End => Start + Size;

    internal nint Host => _host != 0 ? _host : throw new ObjectDisposedException(Name);

    public bool Contains(GuestPhysicalAddress address, ulong length) =>
        address >= Start && address.Value - Start.Value <= Size && length <= Size - (address.Value - Start.Value);

    public void Dispose()
    {
        var host = Interlocked.Exchange(ref _host, 0);
        if (host != 0)
            LibC.Munmap(host, (nuint)Size);
    }
}
