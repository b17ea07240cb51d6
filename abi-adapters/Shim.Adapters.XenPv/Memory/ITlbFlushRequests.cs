namespace Shim.Adapters.XenPv.Memory;

/// <summary>
/// Asks other vCPUs of the domain to flush their TLB (reload CR3) before they next run guest code. The caller's
/// own flush goes through <see cref="Abi.IXenCallContext.RequestTlbFlush"/>. KVM offers no remote INVLPG, so
/// single-page invalidations are widened to full flushes.
/// </summary>
public interface ITlbFlushRequests
{
    void RequestFlush(int vcpuId);
}
