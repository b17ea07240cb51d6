using Xunit;
using Shim.Adapters.Contracts;
using Shim.Adapters.XenPv.Domain;
using Shim.Core.Kvm;
using Shim.Core.Machine;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.Integration.Tests.Kvm;
using Shim.Patcher.Monitor;

namespace Shim.Integration.Tests.XenPv32;

/// <summary>Boots a Xen-PV image through the real adapter on /dev/kvm and captures its console and outcome.</summary>
internal static class XenGuestBoot
{
    public sealed record Result(GuestOutcome Outcome, string Console);

    public static GuestDescriptor Detect(byte[] image)
    {
        var registry = ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, KvmHost.Logger);
        return new AbiDetector(KvmHost.Logger).Detect(registry.Parse(image));
    }

    public static Result Run(string imagePath, TimeSpan timeout)
    {
        using var kvm = KvmHost.Open();
        var console = new StringWriter();
        var request = new GuestRunRequest
        {
            Image = Detect(File.ReadAllBytes(imagePath)),
            MemoryBytes = 64UL << 20,
            ConsoleOutput = console,
            Timeout = timeout,
            Logger = KvmHost.Logger,
        };
        using var guest = Prepare(kvm, request);
        var outcome = guest.Run(TestContext.Current.CancellationToken);
        return new Result(outcome, console.ToString());
    }

    public static IGuestRun Prepare(KvmSystem kvm, GuestRunRequest request) => new XenPvAdapter().Prepare(request, new MachineFactory(kvm));

    private sealed class MachineFactory(KvmSystem kvm) : IGuestMachineFactory
    {
        public IGuestMachine Create(GuestMachineOptions options) =>
            KvmGuestMachine.Create(kvm, options, new IcedMonitorCodeAssembler(), KvmHost.Logger);

        // Only consulted when patching; these boots run unpatched.
        public bool NativeCpuidVirtualized => false;
    }
}
