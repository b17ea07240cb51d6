using Shim.Cli.Hosting;
using Shim.Core.Kvm;
using Shim.GuestImages.Tests.TestGuests;
using Shim.Integration.Tests.Kvm;
using Xunit;

namespace Shim.Integration.Tests.XenPv;

/// <summary>
/// Every pv64 row of guest-images/test-guests/manifest.tsv, built with build.sh and run through `shim run` on real
/// /dev/kvm: the console output must equal the row's expected file byte for byte and the exit code must match the
/// row's shutdown reason (poweroff 0, crash 8, timeout 6).
/// </summary>
public sealed class Pv64TestGuestTests
{
    /// <summary>Enough for every guest; the memory guest walks all frames through the M2P, each an exit on KVM-PVM.</summary>
    private const string GuestMemory = "32M";

    /// <summary>manifest.tsv's shutdown reason of a guest that never ends by itself: only --timeout stops it.</summary>
    private const string NeverEnds = "timeout";

    public static TheoryData<string> Pv64Guests => [.. TestGuestManifest.All.Where(guest => guest.Is64Bit).Select(guest => guest.Name)];

    [Theory]
    [MemberData(nameof(Pv64Guests))]
    public async Task Guest_prints_its_expected_console_and_ends_as_the_manifest_says(string name)
    {
        KvmHost.Open().Dispose();
        var guest = TestGuestManifest.All.Single(g => g.Name == name);
        var timeout = guest.Shutdown == NeverEnds ? "0.5" : "20";

        var (code, output, error) = await Shim("run", TestGuestBuild.GuestPath(name), "--memory", GuestMemory, "--timeout", timeout);

        Assert.Equal(await ExpectedConsole(guest), output);
        Assert.True(code == ExitCodeFor(guest.Shutdown), $"exit code {code}, stderr: {error}");
        if (guest.Shutdown == NeverEnds)
            Assert.StartsWith("shim: error: guest did not finish within 0.5 s", error);
    }

    [Fact]
    public async Task Stats_count_the_hypercalls_a_guest_made()
    {
        KvmHost.Open().Dispose();

        var (code, output, error) = await Shim("run", TestGuestBuild.GuestPath("hello"), "--memory", GuestMemory, "--timeout", "20", "--stats");

        Assert.True(code == ExitCodes.Success, error);
        // hello writes each line with one console_io, makes one more with 0 bytes, and ends with one sched_op.
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.Matches($@"ConsoleIo\s+{lines + 1}\n", error);
        Assert.Matches(@"SchedOp\s+1\n", error);
        Assert.Matches(@"end: PowerOff", error);
    }

    /// <summary>
    /// The row's expected output; on KVM-PVM a `NAME.kvm-pvm.expected` beside it replaces it where that host cannot
    /// do what Xen does (docs/test-guests.md lists each case and why).
    /// </summary>
    private static async Task<string> ExpectedConsole(TestGuest guest)
    {
        var path = guest.ExpectedPath;
        var pvmPath = Path.ChangeExtension(path, ".kvm-pvm.expected");
        if (new KvmHostProbe().DetectFlavor() == KvmFlavor.Pvm && File.Exists(pvmPath))
            path = pvmPath;
        return await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken);
    }

    private static int ExitCodeFor(string shutdown) => shutdown switch
    {
        "poweroff" => ExitCodes.Success,
        "crash" => ExitCodes.GuestCrashed,
        NeverEnds => ExitCodes.GuestTimeout,
        _ => throw new InvalidDataException($"manifest.tsv: unknown shutdown reason '{shutdown}'"),
    };

    private static async Task<(int Code, string Out, string Error)> Shim(params string[] arguments)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await ShimApplication.RunAsync(arguments, new CliContext { Out = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }
}
