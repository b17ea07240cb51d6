using System.Diagnostics;
using Shim.Cli.Regress;
using Xunit;

namespace Shim.Cli.Tests.Regress;

/// <summary>
/// Isolation of entries from each other: each runs in its own child process, so a VMM process that hangs or dies
/// fails only its own entry. The children here are shell scripts standing in for the child process's behaviour
/// (hang, die from a signal, print and exit) — the runner under test is real.
/// </summary>
public sealed class EntryRunnerIsolationTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static CatalogEntry Entry(string name, string script, params string[] expect) => new()
    {
        Name = name,
        Image = new ImageSource(script, null, null),
        Expect = expect,
        Timeout = TimeSpan.FromSeconds(1),
        CatalogFile = "/c.yaml",
    };

    private RegressOptions Options() => new()
    {
        OutputDirectory = _folder.Path,
        // `sh -c 'body' sh run IMAGE ...`: the body chooses what to do from the image name ($2).
        Shim = new ShimLauncher("/bin/sh", ["-c", """
            case "$(basename "$2")" in
              hang) exec sleep 600 ;;
              die) kill -SEGV $$ ;;
              ok) printf 'booting\nall checks passed\n'; exit 0 ;;
              crash) printf 'booting\n'; echo 'shim: error: guest crashed: panic' >&2; exit 8 ;;
              echo) read line; printf 'got %s\n' "$line"; exit 0 ;;
            esac
            """, "sh"]),
        Images = new ImageFetcher(Path.Combine(_folder.Path, "cache")),
        KillGrace = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task A_hanging_and_a_dying_child_fail_only_their_own_entries()
    {
        foreach (var name in new[] { "hang", "die", "ok", "crash" })
            _folder.Write(name, "");
        var entries = new[]
        {
            Entry("hangs", Path.Combine(_folder.Path, "hang"), "never"),
            Entry("dies", Path.Combine(_folder.Path, "die"), "never"),
            Entry("passes", Path.Combine(_folder.Path, "ok"), "booting", "all checks passed"),
            Entry("crashes", Path.Combine(_folder.Path, "crash"), "booting"),
        };
        var clock = Stopwatch.StartNew();

        var results = await new RegressRunner(new EntryRunner(Options()), new PlainProgress(TextWriter.Null))
            .RunAsync(entries, jobs: 4, TestContext.Current.CancellationToken);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        var byName = results.ToDictionary(r => r.Name);
        Assert.Equal((EntryStatus.Fail, "Hung"), (byName["hangs"].Status, byName["hangs"].End));
        Assert.Contains("child killed", byName["hangs"].Reason);
        Assert.Equal((EntryStatus.Fail, "ShimDied(signal 11)"), (byName["dies"].Status, byName["dies"].End));
        Assert.Equal((EntryStatus.Pass, "PowerOff", 2), (byName["passes"].Status, byName["passes"].End, byName["passes"].PatternsMatched));
        Assert.Equal((EntryStatus.Fail, "Crash"), (byName["crashes"].Status, byName["crashes"].End));
        Assert.Contains("shim: error: guest crashed: panic", byName["crashes"].Reason);
        Assert.Equal("booting\nall checks passed\n", File.ReadAllText(Path.Combine(_folder.Path, byName["passes"].ConsoleLog)));
    }

    [Fact]
    public async Task Console_input_is_typed_into_the_child()
    {
        _folder.Write("echo", "");
        var entry = Entry("types", Path.Combine(_folder.Path, "echo"), "got hello") with { Input = [new ConsoleInputStep(null, "hello\n")] };

        var result = await new EntryRunner(Options()).RunAsync(entry, TestContext.Current.CancellationToken);

        Assert.Equal(EntryStatus.Pass, result.Status);
    }

    [Fact]
    public async Task A_missing_image_fails_the_entry_without_starting_anything()
    {
        var result = await new EntryRunner(Options()).RunAsync(Entry("missing", Path.Combine(_folder.Path, "nope")), TestContext.Current.CancellationToken);

        Assert.Equal((EntryStatus.Fail, "NotStarted"), (result.Status, result.End));
        Assert.Contains("does not exist", result.Reason);
    }

    [Fact]
    public async Task Known_failing_entries_that_fail_are_xfail_and_that_pass_are_xpass()
    {
        _folder.Write("ok", "");
        _folder.Write("crash", "");
        var runner = new EntryRunner(Options());

        var xfail = await runner.RunAsync(Entry("k1", Path.Combine(_folder.Path, "crash"), "booting") with { KnownFailing = "bug 1" }, TestContext.Current.CancellationToken);
        var xpass = await runner.RunAsync(Entry("k2", Path.Combine(_folder.Path, "ok"), "booting") with { KnownFailing = "bug 2" }, TestContext.Current.CancellationToken);

        Assert.Equal(EntryStatus.XFail, xfail.Status);
        Assert.Contains("known: bug 1", xfail.Reason);
        Assert.Equal(EntryStatus.XPass, xpass.Status);
    }
}
