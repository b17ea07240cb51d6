using System.Diagnostics;
using Shim.Cli.Hosting;
using Shim.Integration.Tests.Debian;
using Shim.Integration.Tests.Kvm;
using Xunit;

namespace Shim.Integration.Tests.XenPv32;

/// <summary>
/// Issue 6's acceptance: Debian's 32-bit PAE PV GRUB, unmodified, boots in compatibility mode under `shim run` to its
/// prompt, answers a command typed on stdin and powers off on `exit`. The real CLI runs as a child so its console
/// input is a real pipe (as for GRUB x86_64). Every instruction of it is emulated by KVM on KVM-PVM (~30 s of CPU to
/// the prompt on this host), hence the longer limits.
/// </summary>
public sealed class GrubI386Tests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(280);

    [Fact]
    public async Task Grub_i386_reaches_its_prompt_echoes_a_typed_command_and_powers_off_on_exit()
    {
        KvmHost.Open().Dispose();
        var grub = Path.Combine(DebianGuest.CacheRoot, "grub", "grub-i386-xen.bin");
        var (shim, prefix) = DebianGuest.ShimCommand();
        var start = new ProcessStartInfo(shim, [.. prefix, "run", grub, "--stats", "--timeout", "260"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        // Typed at once: the console ring holds the bytes until GRUB reads them at its prompt.
        await process.StandardInput.WriteAsync("echo hello from stdin\nexit\n");
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
            Assert.Fail($"shim run of GRUB i386 did not end within {Limit.TotalSeconds} s");
        }

        var console = await output;
        var stats = await error;
        Assert.True(process.ExitCode == ExitCodes.Success, $"exit {process.ExitCode}\n{stats}\n{console}");
        Assert.Contains("GNU GRUB  version 2.06", console);
        Assert.Contains("grub> ", console);
        // Typed characters are echoed with cursor moves between them: only GRUB's answer is contiguous.
        Assert.Matches(@"[\r\n]hello from stdin\r?\n", console);
        Assert.Contains("end: PowerOff", stats);
    }
}
