using Shim.Cli.Hosting;
using Shim.Core.Kvm;
using Xunit;

namespace Shim.Integration.Tests.Kvm;

/// <summary>`shim run-flat` end to end: real KVM, programs assembled with Iced, exit codes and one-line errors.</summary>
public sealed class RunFlatCliTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("shim-run-flat-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private async Task<(int Code, string Out, string Error)> Shim(byte[]? program, params string[] arguments)
    {
        KvmHost.Open().Dispose();
        var file = Path.Combine(_directory, "program.bin");
        if (program is not null)
            await File.WriteAllBytesAsync(file, program, TestContext.Current.CancellationToken);
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await ShimApplication.RunAsync(["run-flat", file, .. arguments], new CliContext { Out = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("long64-cpl3", 64)]
    [InlineData("compat32-cpl3", 32)]
    [InlineData("long64-cpl0", 64)]
    [InlineData("compat32-cpl1", 32)]
    public async Task PrintsTheConsoleAndExitsCleanly(string mode, int bitness)
    {
        var (code, output, error) = await Shim(TestPrograms.HelloAndExit(bitness, $"hi from {mode}\n", 0), "--mode", mode, "--stats");

        Assert.True(code == ExitCodes.Success, error);
        Assert.Equal($"hi from {mode}\n", output);
        Assert.Contains("PortIo=", error);
    }

    [Fact]
    public async Task NonZeroGuestStatusIsReported()
    {
        var (code, _, error) = await Shim(TestPrograms.HelloAndExit(64, "", 3));

        Assert.Equal(ExitCodes.GuestExitStatus, code);
        Assert.Equal("shim: error: guest exited with status 3\n", error);
    }

    [Fact]
    public async Task NeverEndingGuestHitsTheTimeout()
    {
        var (code, _, error) = await Shim(TestPrograms.Spin(64), "--timeout", "0.5");

        Assert.Equal(ExitCodes.GuestTimeout, code);
        Assert.StartsWith("shim: error: guest did not finish within 0.5 s", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task TripleFaultIsReported()
    {
        var (code, _, error) = await Shim(TestPrograms.TripleFault(), "--mode", "long64-cpl0");

        Assert.True(code == ExitCodes.GuestTripleFault, error);
        Assert.StartsWith("shim: error: guest crashed: triple fault", error);
    }

    [Fact]
    public async Task EmulationFailureNamesTheInstruction()
    {
        // CPL0 code is emulated on KVM-PVM, and KVM's emulator lacks CMPXCHG16B; on hardware KVM it just runs.
        var a = new Iced.Intel.Assembler(64);
        a.mov(Iced.Intel.AssemblerRegisters.rsi, 0x2000);
        a.@lock.cmpxchg16b(Iced.Intel.AssemblerRegisters.__[Iced.Intel.AssemblerRegisters.rsi]);
        a.mov(Iced.Intel.AssemblerRegisters.eax, 0);
        a.@out(TestPrograms.ExitPort, Iced.Intel.AssemblerRegisters.eax);
        using var stream = new MemoryStream();
        a.Assemble(new Iced.Intel.StreamCodeWriter(stream), TestPrograms.LoadAddress);

        var (code, _, error) = await Shim(stream.ToArray(), "--mode", "long64-cpl0");

        if (new KvmHostProbe().DetectFlavor() != KvmFlavor.Pvm)
        {
            Assert.True(code == ExitCodes.Success, error);
            return;
        }
        Assert.Equal(ExitCodes.EmulationFailure, code);
        Assert.StartsWith("shim: error: KVM cannot emulate the instruction at rip 0x10000", error);
        Assert.Contains("(bytes f0480fc70e", error);
        Assert.EndsWith("): lock cmpxchg16b [rsi]\n", error);
    }

    [Fact]
    public async Task UnknownModeIsAUsageError()
    {
        var (code, _, error) = await Shim(TestPrograms.Spin(64), "--mode", "real16");

        Assert.Equal(ExitCodes.UsageError, code);
        Assert.Contains("unknown mode 'real16'", error);
    }

    [Fact]
    public async Task ProgramLargerThanMemoryIsRejected()
    {
        var (code, _, error) = await Shim(new byte[3 << 20], "--memory", "2M", "--load-address", "0x10000");

        Assert.Equal(ExitCodes.ImageError, code);
        Assert.Contains("does not fit", error);
    }

    [Fact]
    public async Task MissingFileIsAnImageError()
    {
        var (code, _, error) = await Shim(null);

        Assert.Equal(ExitCodes.ImageError, code);
        Assert.Contains("does not exist", error);
    }

    [Fact]
    public async Task UnhandledTrapStopsWithADescription()
    {
        var (code, _, error) = await Shim(TestPrograms.Traps64());

        Assert.Equal(ExitCodes.GuestFailed, code);
        Assert.StartsWith("shim: error: unhandled #PF at 0033:", error);
    }
}
