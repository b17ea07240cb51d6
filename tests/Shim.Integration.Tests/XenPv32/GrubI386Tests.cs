using System.IO.Pipes;
using System.Text;
using Xunit;
using Shim.Adapters.Contracts;
using Shim.GuestImages.Tests.TestGuests;

namespace Shim.Integration.Tests.XenPv32;

/// <summary>
/// Acceptance: Debian's 32-bit PAE GRUB (grub-i386-xen.bin, fetched by tools/scripts/fetch-guests.sh) boots in
/// compatibility mode to its prompt and answers `echo` typed on its PV console. Every instruction of it is emulated
/// by KVM on KVM-PVM hosts, so the guard timeout is generous; the test ends as soon as the answer appears.
/// </summary>
public sealed class GrubI386Tests
{
    private const string Command = "echo hello from stdin\n";
    private const string Answer = "hello from stdin";
    private static readonly TimeSpan Guard = TimeSpan.FromMinutes(10);

    [Fact]
    public void GrubReachesItsPromptAndAnswersEcho()
    {
        var image = RepositoryLayout.PathOf(".cache", "guests", "grub", "grub-i386-xen.bin");
        if (!File.Exists(image))
            Assert.Skip($"{image} is absent: run tools/scripts/fetch-guests.sh");
        using var input = new AnonymousPipeServerStream(PipeDirection.Out);
        using var guestInput = new AnonymousPipeClientStream(PipeDirection.In, input.ClientSafePipeHandle);
        using var answered = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var console = new PromptWatcher(input, answered);

        var outcome = XenGuestBoot.Run(image, Guard, console, guestInput, answered.Token);

        var text = console.Text;
        Assert.True(console.Typed, $"no GRUB prompt; ended {outcome.End}: {outcome.Message}\n{text}");
        Assert.True(outcome.End == GuestEnd.Cancelled, $"GRUB ended {outcome.End} before answering: {outcome.Message}\n{text}");
        Assert.Contains("GNU GRUB", text);
        var afterCommand = text[text.IndexOf("grub> ", StringComparison.Ordinal)..];
        Assert.Matches("[\r\n]" + Answer, afterCommand);
        Assert.True(outcome.Statistics.TotalCalls > 0, "GRUB made no hypercalls");
    }

    /// <summary>Types the command once the first prompt appears, and stops the run once GRUB has printed the answer.</summary>
    private sealed class PromptWatcher(Stream input, CancellationTokenSource answered) : TextWriter
    {
        private readonly StringBuilder _text = new();
        private readonly Lock _gate = new();
        private int _promptAt = -1;

        public override Encoding Encoding => Encoding.UTF8;

        public bool Typed => _promptAt >= 0;

        public string Text
        {
            get
            {
                lock (_gate)
                    return _text.ToString();
            }
        }

        public override void Write(char value) => Write(value.ToString());

        public override void Write(string? value)
        {
            if (value is null)
                return;
            lock (_gate)
            {
                _text.Append(value);
                var text = _text.ToString();
                if (_promptAt < 0 && text.IndexOf("grub> ", StringComparison.Ordinal) is var prompt and >= 0)
                {
                    _promptAt = prompt;
                    input.Write(Encoding.ASCII.GetBytes(Command));
                    input.Flush();
                }
                // Typed characters are echoed with cursor moves between them: only GRUB's answer is contiguous.
                else if (_promptAt >= 0 && text.IndexOf(Answer, _promptAt, StringComparison.Ordinal) >= 0)
                    answered.Cancel();
            }
        }
    }
}
