namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>CALLBACKTYPE_* (public/callback.h).</summary>
public enum CallbackType
{
    Event = 0,
    Failsafe = 1,
    Syscall = 2,
    SysenterDeprecated = 3,
    Nmi = 4,
    Sysenter = 5,
    Syscall32 = 7,
}

/// <summary>A registered guest entry point; <see cref="CodeSelector"/> is used by pv32 only.</summary>
public readonly record struct GuestCallback(ulong Address, ushort CodeSelector, bool MaskEvents)
{
    public bool IsRegistered => Address != 0;
}

/// <summary>The vCPU's callback entry points (event, failsafe, syscall, syscall32, sysenter, NMI).</summary>
public sealed class GuestCallbacks
{
    private readonly GuestCallback[] _callbacks = new GuestCallback[8];

    public GuestCallback this[CallbackType type] => _callbacks[(int)type];

    public void Set(CallbackType type, GuestCallback callback) => _callbacks[(int)type] = callback;
}
