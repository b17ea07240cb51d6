namespace Shim.Adapters.XenPv.Builder;

/// <summary>The image or settings cannot be laid out as a Xen PV domain (too little memory, bad addresses…).</summary>
public sealed class XenDomainBuildException(string message) : Exception(message);
