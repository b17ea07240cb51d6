using System.Diagnostics;
using Shim.Cli.Hosting;
using Shim.Integration.Tests.Debian;
using Shim.Integration.Tests.Kvm;
using Xunit;

namespace Shim.Integration.Tests.Grub;

/// <summary>
/// Issues 4 and 6: Debian's PV GRUB images, unmodified, boot under `shim run` to their prompt, answer a command typed
/// on stdin and power off on `exit` — patched (the default) and with `--no-patch`. The real CLI runs as a child so its
/// console input is a real pipe. GRUB i386 runs in compatibility mode, where KVM-PVM emulates every instruction
/// (about 30 s of CPU to the prompt here), hence the long limit.
/// </summary>
public sealed class GrubBootTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(280);

    [Theory]
    [InlineData("grub-x86_64-xen.bin", false)]
    [InlineData("grub-x86_64-xen.bin", true)]
    [InlineData("grub-i386-xen.bin", false)]
    [InlineData("grub-i386-xen.bin", true)]
    public async Task Grub_reaches_its_prompt_echoes_a_typed_command_and_powers_off_on_exit(string image, bool noPatch)
    {
        KvmHost.Open().Dispose();
        var grub = Path.Combine(DebianGuest.CacheRoot, "grub", image);
        var (shim, prefix) = DebianGuest.ShimCommand();
        string[] patching = noPatch ? ["--no-patch"] : [];
        var start = new ProcessStartInfo(shim, [.. prefix, "run", grub, "--stats", "--timeout", "260", .. patching])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        // Typed at once: the console ring holds the bytes until GRUB reads them at its prompt.
        await process.StandardInput.WriteAsync("echo shim-says-hello\nexit\n");
        process.StandardInput.Close();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(Limit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"shim run of {image} did not end within {Limit.TotalSeconds} s");
        }

        var console = await output;
        var stats = await error;
        Assert.True(process.ExitCode == ExitCodes.Success, $"exit {process.ExitCode}\n{stats}\n{console}");
        Assert.Contains("GNU GRUB  version 2.06", console);
        Assert.Contains("grub> ", console);
        // Typed characters are echoed with cursor moves between them: only GRUB's answer is contiguous.
        Assert.Matches(@"[\r\n]shim-says-hello\r?\n", console);
        Assert.Contains("end: PowerOff", stats);
        // Patched hypercalls arrive through the gate, unpatched ones as syscall (pv64) or int $0x82 traps (pv32).
        Assert.Equal(!noPatch, stats.Contains("Gate ", StringComparison.Ordinal));
    }
}
