using System.IO.Pipes;
using System.Text;
using Xunit;
using Shim.Adapters.Contracts;
using Shim.GuestImages.Tests.TestGuests;

namespace Shim.Integration.Tests.XenPv32;

/// <summary>
/// Acceptance: Debian's 32-bit PAE GRUB (grub-i386-xen.bin, fetched by tools/scripts/fetch-guests.sh) boots in
/// compatibility mode to its prompt and answers `echo` typed on its PV console. Every instruction of it is emulated
/// by KVM on KVM-PVM hosts (~30 s of CPU to the prompt), so the guard is generous; the test ends once GRUB answers.
/// </summary>
public sealed class GrubI386Tests
{
    private const string Prompt = "grub> ";
    private const string Answer = "hello from stdin";
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task GrubReachesItsPromptAndAnswersEcho()
    {
        var image = RepositoryLayout.PathOf(".cache", "guests", "grub", "grub-i386-xen.bin");
        if (!File.Exists(image))
            Assert.Skip($"{image} is absent: run tools/scripts/fetch-guests.sh");
        using var input = new AnonymousPipeServerStream(PipeDirection.Out);
        var guestInput = new AnonymousPipeClientStream(PipeDirection.In, input.ClientSafePipeHandle);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var console = new ConsoleRecorder();

        var run = Task.Factory.StartNew(() => XenGuestBoot.Run(image, Guard, console, guestInput, stop.Token),
            TaskCreationOptions.LongRunning);
        var prompted = await console.WaitForAsync(Prompt, 0, run);
        if (prompted >= 0)
        {
            await input.WriteAsync(Encoding.ASCII.GetBytes($"echo {Answer}\n"), TestContext.Current.CancellationToken);
            await input.FlushAsync(TestContext.Current.CancellationToken);
            // Typed characters are echoed with cursor moves between them: only GRUB's answer is contiguous.
            if (await console.WaitForAsync(Answer, prompted, run) >= 0)
                await stop.CancelAsync();
        }
        var outcome = await run;

        var text = console.Text;
        Assert.True(prompted >= 0, $"no GRUB prompt; ended {outcome.End}: {outcome.Message}\n{text}");
        Assert.True(outcome.End == GuestEnd.Cancelled, $"GRUB ended {outcome.End} before answering: {outcome.Message}\n{text}");
        Assert.Contains("GNU GRUB", text);
        Assert.Matches("[\r\n]" + Answer, text[prompted..]);
        Assert.True(outcome.Statistics.TotalCalls > 0, "GRUB made no hypercalls");
    }

    /// <summary>The console text so far; the test thread polls it (the guest writes from its vCPU thread).</summary>
    private sealed class ConsoleRecorder : TextWriter
    {
        private readonly StringBuilder _text = new();
        private readonly Lock _gate = new();

        public override Encoding Encoding => Encoding.UTF8;

        public string Text
        {
            get
            {
                lock (_gate)
                    return _text.ToString();
            }
        }

        public override void Write(char value)
        {
            lock (_gate)
                _text.Append(value);
        }

        /// <summary>Index of <paramref name="marker"/> at or after <paramref name="from"/>, or -1 once the run has ended without it.</summary>
        public async Task<int> WaitForAsync(string marker, int from, Task run)
        {
            while (true)
            {
                var at = Text.IndexOf(marker, from, StringComparison.Ordinal);
                if (at >= 0 || run.IsCompleted)
                    return at;
                await Task.Delay(100);
            }
        }
    }
}
