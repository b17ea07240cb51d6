namespace Shim.Adapters.XenPv.Memory;

/// <summary>Who a machine frame belongs to. Identity P2M: MFN == guest-physical frame number of the VM.</summary>
public enum FrameOwner : byte
{
    /// <summary>Not backed by memory the domain may use (MMIO or beyond the VM's memory): mapping it is -EPERM.</summary>
    Nobody,

    /// <summary>The guest's RAM, and extra frames shared with it (shared_info, grant frames).</summary>
    Guest,

    /// <summary>Frames the hypervisor side keeps for itself (M2P backing and its tables, monitor pages).</summary>
    Hypervisor,
}
