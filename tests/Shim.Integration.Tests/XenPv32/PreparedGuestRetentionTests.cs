using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xunit;
using Serilog.Core;
using Shim.Adapters.Contracts;
using Shim.Core.Kvm;
using Shim.GuestImages.Tests.TestGuests;
using Shim.Integration.Tests.Kvm;
using Shim.Patcher;

namespace Shim.Integration.Tests.XenPv32;

/// <summary>
/// Once the adapter has built the domain, the image is in guest memory: the prepared guest must not keep the loader's
/// bytes alive (a kernel's decompressed ELF is tens of MiB, held for the whole run otherwise).
/// </summary>
public sealed class PreparedGuestRetentionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Prepared_guest_does_not_keep_the_image_bytes_alive(bool patched)
    {
        using var kvm = KvmHost.Open();
        var (guest, image) = Prepare(kvm, patched);
        using (guest)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();

            Assert.False(image.IsAlive, "the image's bytes are still reachable from the prepared guest");
        }
    }

    // Not inlined, so that no local of the test's own frame still refers to the request.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (IGuestRun Guest, WeakReference Image) Prepare(KvmSystem kvm, bool patched)
    {
        var file = File.ReadAllBytes(TestGuestBuilder.PathOf(TestGuestManifest.All.Single(g => g.Name == "hello-pv32")));
        var descriptor = XenGuestBoot.Detect(file);
        Assert.True(MemoryMarshal.TryGetArray(descriptor.Image.Elf!.Data, out var bytes));
        var request = new GuestRunRequest
        {
            Image = descriptor,
            MemoryBytes = 64UL << 20,
            ConsoleOutput = TextWriter.Null,
            Timeout = TimeSpan.FromSeconds(30),
            Logger = KvmHost.Logger,
            Patcher = patched ? new EngineImagePatcher(new PatchEngineOptions(), cache: null, Logger.None) : null,
        };
        return (XenGuestBoot.Prepare(kvm, request), new WeakReference(bytes.Array));
    }
}
