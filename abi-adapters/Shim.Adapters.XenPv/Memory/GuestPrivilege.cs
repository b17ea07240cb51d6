namespace Shim.Adapters.XenPv.Memory;

/// <summary>Whose access a guest-virtual access is checked as.</summary>
public enum GuestPrivilege
{
    /// <summary>Guest kernel (hypercall arguments, bounce frames): needs present, and RW on every level to write.</summary>
    Kernel,

    /// <summary>Guest user: additionally needs US on every level.</summary>
    User,
}
