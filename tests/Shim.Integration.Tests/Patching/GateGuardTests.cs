using Shim.Adapters.Contracts;
using Shim.Adapters.XenPv.Domain;
using Shim.Adapters.XenPv.Patching;
using Shim.Core.Kvm;
using Shim.Core.Machine;
using Shim.GuestImages.Decompression;
using Shim.GuestImages.Detection;
using Shim.GuestImages.Loading;
using Shim.Integration.Tests.Kvm;
using Shim.Patcher;
using Shim.Patcher.Contracts;
using Shim.Patcher.Monitor;
using Xunit;

namespace Shim.Integration.Tests.Patching;

/// <summary>
/// The run-time guard of the gate on real KVM with real test guests: a gate exit whose RIP is not a site the
/// patcher reported is refused (the guest sees -ENOSYS), and a gate used from guest user mode is refused even at
/// a reported site (the guest kernel gets the #GP Xen gives a user-mode <c>out</c>). The patcher is the real
/// engine; the tests only alter what it reports, to create those two situations.
/// </summary>
public sealed class GateGuardTests
{
    [Fact]
    public void Gate_exits_at_addresses_the_patcher_did_not_report_are_refused_with_enosys()
    {
        // The sites are rewritten but none is reported: every gate exit comes from an "unpatched" address.
        var patcher = new AlteredPatcher(patch => patch with { GateSites = [] });

        var (outcome, console) = Run("hello", patcher, TimeSpan.FromSeconds(3));

        Assert.Equal("", console); // console_io never ran
        Assert.DoesNotContain(outcome.Statistics.Calls, c => c.Call == "ConsoleIo");
        Assert.True(Calls(outcome, "gate_refused_unpatched_site") >= 2, Describe(outcome));
        Assert.Equal(GuestEnd.Timeout, outcome.End); // rt_shutdown retries a refused shutdown for ever
    }

    [Fact]
    public void Gate_used_from_guest_user_mode_is_refused_even_at_a_reported_site()
    {
        // The `user` guest's user code ends in `syscall`; make it a gate the patcher reports as its own.
        var user = Symbol("user", "rt_user_code");
        ulong gate = 0;
        var patcher = new AlteredPatcher(patch => patch, input =>
        {
            var region = input.Regions.Single(r => r.Contains(user));
            var offset = region.Bytes.AsSpan((int)(user - region.VirtualAddress), 16).IndexOf((byte[])[0x0F, 0x05]);
            Assert.True(offset >= 0, "rt_user_code has no syscall");
            gate = user + (ulong)offset;
            return new PatchWrite(gate, [0xE7, XenPvPatchRules.Gate.Port]);
        });

        var (outcome, console) = Run("user", patcher, TimeSpan.FromSeconds(30));

        Assert.Equal(1, Calls(outcome, "gate_refused_user_mode"));
        Assert.Equal(0, Calls(outcome, "gate_refused_unpatched_site"));
        // Kernel-mode hypercalls kept working; the guest kernel got #GP(0) at the gate, as for a user-mode `out`.
        Assert.StartsWith("ok 1 - callback_op(register, syscall) returns 0", console);
        Assert.True(console.Contains($"PANIC: unexpected exception 13, error code 0x0, at ip 0x{gate:x}\n"), console);
    }

    /// <summary>An assembler label of a test guest (untyped, so not among the patcher's function roots).</summary>
    private static ulong Symbol(string guest, string name) =>
        Load(guest).Elf!.Symbols.Single(s => s.Name == name).Value;

    private static GuestImage Load(string guest) =>
        ImageLoaderRegistry.CreateDefault(DecompressionOptions.Default, KvmHost.Logger).Parse(File.ReadAllBytes(TestGuestImages.PathOf(guest)));

    private static long Calls(GuestOutcome outcome, string call) =>
        outcome.Statistics.Calls.Where(c => c.Call == call).Sum(c => c.Count);

    private static string Describe(GuestOutcome outcome) =>
        $"{outcome.End}: {outcome.Message}; calls {string.Join(", ", outcome.Statistics.Calls.Select(c => $"{c.Call}={c.Count}"))}";

    private static (GuestOutcome Outcome, string Console) Run(string guest, IImagePatcher patcher, TimeSpan timeout)
    {
        using var kvm = KvmHost.Open();
        var logger = KvmHost.Logger;
        var image = Load(guest);
        var console = new StringWriter();
        var request = new GuestRunRequest
        {
            Image = new AbiDetector(logger).Detect(image),
            MemoryBytes = 64UL << 20,
            ConsoleOutput = console,
            Timeout = timeout,
            Logger = logger,
            Patcher = patcher,
        };
        using var run = new XenPvAdapter().Prepare(request, new Machines(kvm));
        var outcome = run.Run(TestContext.Current.CancellationToken);
        return (outcome, console.ToString());
    }

    /// <summary>The real engine, with its report altered after the fact (and an optional extra gate written).</summary>
    private sealed class AlteredPatcher(Func<ImagePatch, ImagePatch> alter, Func<PatchInput, PatchWrite>? extraGate = null) : IImagePatcher
    {
        private readonly EngineImagePatcher _engine = new(new PatchEngineOptions(), cache: null, KvmHost.Logger);

        public ImagePatch Patch(PatchInput input, IReadOnlyList<IPatchRule> rules)
        {
            var patch = alter(_engine.Patch(input, rules));
            if (extraGate is null || input.Regions.Any(r => r.Name == "hypercall-page"))
                return patch;
            var gate = extraGate(input);
            return patch with
            {
                Writes = [.. patch.Writes, gate],
                GateSites = [.. patch.GateSites, gate.Address + (ulong)gate.Bytes.Length],
            };
        }
    }

    private sealed class Machines(KvmSystem kvm) : IGuestMachineFactory
    {
        public IGuestMachine Create(GuestMachineOptions options) => KvmGuestMachine.Create(kvm, options, new IcedMonitorCodeAssembler(), KvmHost.Logger);

        public bool NativeCpuidVirtualized => false;
    }
}
