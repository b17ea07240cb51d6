using Xunit;
using Shim.Adapters.Contracts;
using Shim.GuestImages.Tests.TestGuests;

namespace Shim.Integration.Tests.XenPv32;

/// <summary>
/// Every pv32pae row of guest-images/test-guests/manifest.tsv, booted in compatibility mode on real KVM: the console
/// must equal the row's expected file byte for byte and the guest must end the way the row says.
/// </summary>
public sealed class Pv32TestGuestTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Pv32Guests() => [.. TestGuestManifest.All.Where(g => g.Arch == "pv32pae").Select(g => g.Name)];

    [Theory]
    [MemberData(nameof(Pv32Guests))]
    public void GuestPrintsItsExpectedOutputAndEndsAsTheManifestSays(string name)
    {
        var guest = TestGuestManifest.All.Single(g => g.Name == name);
        var expectedEnd = guest.Shutdown switch
        {
            "poweroff" => GuestEnd.PowerOff,
            "crash" => GuestEnd.Crash,
            _ => throw new InvalidDataException($"manifest row {name}: unknown shutdown reason '{guest.Shutdown}'"),
        };

        var (outcome, console) = XenGuestBoot.Run(TestGuestBuilder.PathOf(guest), Timeout);

        Assert.Equal(File.ReadAllText(guest.ExpectedPath), console);
        Assert.True(outcome.End == expectedEnd, $"{name} ended {outcome.End}: {outcome.Message}");
    }

    [Fact]
    public void InlineHypercallsEachCostOneTrapExit()
    {
        var guest = TestGuestManifest.All.Single(g => g.Name == "hello-pv32");

        var (outcome, _) = XenGuestBoot.Run(TestGuestBuilder.PathOf(guest), Timeout);

        // int $0x82 reaches the VMM once per hypercall; nothing else in this guest leaves the emulator.
        var traps = outcome.Statistics.Exits.Where(e => e.Kind == "Trap").Sum(e => e.Count);
        Assert.True(outcome.Statistics.TotalCalls > 0, "no hypercalls counted");
        Assert.Equal(outcome.Statistics.TotalCalls, traps);
    }
}
