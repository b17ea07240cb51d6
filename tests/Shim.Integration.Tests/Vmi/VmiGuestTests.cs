using Shim.Adapters.Contracts;
using Shim.Adapters.Vmi;
using Shim.Cli.Hosting;
using Shim.Core.Kvm;
using Shim.Core.Machine;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.Integration.Tests.Kvm;
using Shim.Patcher.Monitor;
using Xunit;

namespace Shim.Integration.Tests.Vmi;

/// <summary>
/// Every VMI test guest on real /dev/kvm with the ROM its manifest row names: exact console output and how the
/// run ended. The negative rows run the same guest against broken or missing ROMs; it must fall back to native.
/// </summary>
public sealed class VmiGuestTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Cases => VmiTestGuests.CaseNames();

    [Theory]
    [MemberData(nameof(Cases))]
    public void GuestPrintsExactlyItsExpectedConsoleAndEndsAsExpected(string name)
    {
        var guestCase = VmiTestGuests.Cases().Single(c => c.Name == name);
        using var kvm = KvmHost.Open();
        var console = new StringWriter();

        var outcome = Run(kvm, guestCase, console);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{name}: {outcome.Statistics.TotalExits} exits ({string.Join(", ", outcome.Statistics.Exits.Select(e => $"{e.Kind} {e.Count}"))}), " +
            $"{outcome.Statistics.TotalCalls} VMI calls, {outcome.Statistics.WallTime.TotalMilliseconds:0} ms");

        Assert.Equal(VmiTestGuests.Expected(guestCase), console.ToString());
        Assert.True(guestCase.End == outcome.End, $"{name}: ended {outcome.End} ({outcome.Message}), expected {guestCase.End}");
    }

    [Fact]
    public void ShimRunDetectsTheVmiGuestAndExitsCleanly()
    {
        KvmHost.Open().Dispose();
        var guestCase = VmiTestGuests.Cases().Single(c => c.Name == "timer");
        var (code, output, error) = Shim("run", "--stats", "--timeout", "60", VmiTestGuests.PathOf(guestCase.Guest));

        Assert.True(code == ExitCodes.Success, error);
        Assert.Equal(VmiTestGuests.Expected(guestCase), output);
        Assert.Contains("SetAlarm", error);
        Assert.Contains("Gate", error);
    }

    [Fact]
    public void ShimRunAcceptsAbiVmi()
    {
        KvmHost.Open().Dispose();
        var guestCase = VmiTestGuests.Cases().Single(c => c.Name == "hello");
        var (code, output, error) = Shim("run", "--abi", "vmi", "--timeout", "60", VmiTestGuests.PathOf(guestCase.Guest));

        Assert.True(code == ExitCodes.Success, error);
        Assert.Equal(VmiTestGuests.Expected(guestCase), output);
    }

    [Fact]
    public void MemoryTooSmallForAVmiGuestIsAnImageErrorOnOneLine()
    {
        KvmHost.Open().Dispose();
        var (code, _, error) = Shim("run", "--memory", "1M", VmiTestGuests.PathOf("vmi-hello"));

        Assert.Equal(ExitCodes.ImageError, code);
        Assert.Equal("shim: error: vmi: memory 0x100000 must be a multiple of 4 KiB between 2 MiB and 3 GiB\n", error);
    }

    [Fact]
    public void ShimInspectReportsVmiCapability()
    {
        var (code, output, error) = Shim("inspect", VmiTestGuests.PathOf("vmi-paging"));

        Assert.True(code == ExitCodes.Success, error);
        Assert.Contains("ABI:           Vmi — supported", output);
        Assert.Contains("VMI ROM signature \"cVmi\"", output);
    }

    private static GuestOutcome Run(KvmSystem kvm, VmiGuestCase guestCase, StringWriter console)
    {
        var adapter = new VmiAdapter(new VmiAdapterOptions { Rom = guestCase.RomOptions });
        var request = new GuestRunRequest
        {
            Image = Open(VmiTestGuests.PathOf(guestCase.Guest)),
            MemoryBytes = 32UL << 20,
            ConsoleOutput = console,
            Timeout = Timeout,
            Logger = KvmHost.Logger,
        };
        using var run = adapter.Prepare(request, new TestMachineFactory(kvm));
        return run.Run(TestContext.Current.CancellationToken);
    }

    private static GuestDescriptor Open(string path)
    {
        var registry = ImageLoaderRegistry.CreateDefault(new DecompressionOptions(), KvmHost.Logger);
        var descriptor = new AbiDetector(KvmHost.Logger).Detect(registry.Parse(File.ReadAllBytes(path)));
        Assert.Equal(GuestAbi.Vmi, descriptor.Abi);
        return descriptor;
    }

    private static (int Code, string Out, string Error) Shim(params string[] arguments)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = ShimApplication.RunAsync(arguments, new CliContext { Out = output, Error = error }).GetAwaiter().GetResult();
        return (code, output.ToString(), error.ToString());
    }

    private sealed class TestMachineFactory(KvmSystem kvm) : IGuestMachineFactory
    {
        public IGuestMachine Create(GuestMachineOptions options) =>
            KvmGuestMachine.Create(kvm, options, new IcedMonitorCodeAssembler(), KvmHost.Logger);

        // The VMI adapter never rewrites CPUID sites; KVM-PVM answers native CPUID from the outer host anyway.
        public bool NativeCpuidVirtualized => false;
    }
}
