using Shim.Cli.Regress;
using Xunit;

namespace Shim.Cli.Tests.Regress;

public sealed class ConsoleScriptTests
{
    [Fact]
    public void Patterns_match_in_order_even_across_chunk_boundaries()
    {
        var script = new ConsoleScript(["alpha", "beta"], []);

        script.Feed("be");
        script.Feed("ta al");
        Assert.Equal(0, script.Matched);
        script.Feed("pha ... be");
        Assert.Equal(1, script.Matched);
        script.Feed("ta!");
        Assert.True(script.AllMatched);
    }

    [Fact]
    public void A_pattern_seen_only_before_the_previous_one_does_not_count()
    {
        var script = new ConsoleScript(["second", "first"], []);

        script.Feed("first then second");

        Assert.Equal(1, script.Matched);
    }

    [Fact]
    public void Input_steps_are_due_once_their_prompt_appears_in_order()
    {
        var script = new ConsoleScript([], [new ConsoleInputStep(null, "boot\n"), new ConsoleInputStep("grub>", "echo hello\n"), new ConsoleInputStep("grub>", "exit\n")]);

        Assert.Equal("boot\n", script.Feed(""));
        Assert.Equal("", script.Feed("Welcome to GR"));
        Assert.Equal("echo hello\n", script.Feed("UB!\ngrub> "));
        Assert.False(script.InputDone);
        Assert.Equal("", script.Feed("echo hello\nhello\n"));
        Assert.Equal("exit\n", script.Feed("grub> "));
        Assert.True(script.InputDone);
    }
}
