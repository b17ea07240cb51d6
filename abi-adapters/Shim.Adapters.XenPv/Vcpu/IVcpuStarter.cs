namespace Shim.Adapters.XenPv.Vcpu;

/// <summary>Gives a vCPU that VCPUOP_up just brought online a host thread to run on (the run loop's side of "up").</summary>
public interface IVcpuStarter
{
    void Start(int vcpuId);
}
