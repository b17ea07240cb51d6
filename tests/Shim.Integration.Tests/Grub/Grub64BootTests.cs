using System.Diagnostics;
using Shim.Cli.Hosting;
using Shim.Integration.Tests.Debian;
using Shim.Integration.Tests.Kvm;
using Xunit;

namespace Shim.Integration.Tests.Grub;

/// <summary>
/// Issue 4's first acceptance: Debian's PV GRUB for x86_64, unmodified, boots under `shim run` to its prompt, answers a
/// command typed on stdin and powers off on `exit`. The real CLI runs as a child so its console input is a real pipe.
/// </summary>
public sealed class Grub64BootTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Grub_reaches_its_prompt_echoes_a_typed_command_and_powers_off_on_exit()
    {
        KvmHost.Open().Dispose();
        var grub = Path.Combine(DebianGuest.CacheRoot, "grub", "grub-x86_64-xen.bin");
        var (shim, prefix) = DebianGuest.ShimCommand();
        var start = new ProcessStartInfo(shim, [.. prefix, "run", grub, "--stats", "--timeout", "60"])
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
            Assert.Fail($"shim run of GRUB did not end within {Limit.TotalSeconds} s");
        }

        var console = await output;
        var stats = await error;
        Assert.True(process.ExitCode == ExitCodes.Success, $"exit {process.ExitCode}\n{stats}\n{console}");
        Assert.Contains("GNU GRUB  version 2.06", console);
        Assert.Contains("grub> ", console);
        Assert.Matches(@"[\r\n]shim-says-hello\r?\n", console);
        Assert.Contains("end: PowerOff", stats);
        Assert.Matches(@"TableTouch\s+\d+", stats);
    }
}
