using Serilog.Core;
using Shim.Adapters.Contracts.Patching;
using Shim.Adapters.XenPv.Patching;
using Shim.Cli.Policy;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.Patcher;
using Xunit;

namespace Shim.Cli.Tests.Policy;

/// <summary>`patcher:rules` switches on the real patch engine and a real test guest.</summary>
public sealed class PolicyFilteredPatcherTests
{
    [Fact]
    public void A_rule_switched_off_rewrites_none_of_its_sites()
    {
        var bytes = File.ReadAllBytes(Kvm.TestGuests.Require("hello"));
        var image = new AbiDetector(Logger.None).Detect(ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, Logger.None).Parse(bytes));
        var input = GuestImageCode.ToPatchInput(image.Image);
        var rules = XenPvPatchRules.Create(XenPvPatchRules.Gate);
        var engine = new EngineImagePatcher(new PatchEngineOptions(), null, Logger.None);

        var all = engine.Patch(input, rules);
        var filtered = new PolicyFilteredPatcher(engine, new Dictionary<string, bool> { ["xen.syscall-hypercall"] = false, ["xen.int82-hypercall"] = true })
            .Patch(input, rules);

        var none = new PolicyFilteredPatcher(engine, rules.ToDictionary(r => r.Id, _ => false)).Patch(input, rules);

        Assert.True(all.SitesRewritten > 0, "the hello guest has syscall hypercall sites");
        Assert.True(filtered.SitesRewritten < all.SitesRewritten, $"{filtered.SitesRewritten} of {all.SitesRewritten} still rewritten");
        Assert.Equal(0, none.SitesRewritten);
        Assert.Empty(none.Writes);
    }
}
