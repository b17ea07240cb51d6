namespace Shim.Adapters.XenPv.Abi;

/// <summary>One hypercall's implementation. Returns the value for RAX (negative Xen errno on failure).</summary>
public interface IHypercallHandler
{
    long Handle(IXenCallContext caller, in HypercallArgs args);
}
