namespace Shim.Adapters.Contracts.Policy;

/// <summary>
/// One guest call as an adapter sees it before handling it: the ABI's call number (hypercall number, VMI call
/// index) and, for calls that multiplex commands, the sub-operation (e.g. the cmd argument of memory_op).
/// </summary>
public readonly record struct GuestCall(long Number, long? SubOp = null);
