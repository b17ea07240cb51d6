using Shim.Cli.Hosting;
using Xunit;

namespace Shim.Cli.Tests.Hosting;

/// <summary>Command-line mistakes end with the documented usage exit code and one line per problem, no stack trace.</summary>
public sealed class UsageErrorTests
{
    [Theory]
    [InlineData("nosuchcommand")]
    [InlineData("inspect")]
    [InlineData("run", "--no-such-option", "x")]
    public async Task A_usage_error_exits_2_with_one_line_errors(params string[] arguments)
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var code = await ShimApplication.RunAsync(arguments, new CliContext { Out = output, Error = error });

        Assert.Equal(ExitCodes.UsageError, code);
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, line => Assert.StartsWith("shim: ", line));
        Assert.Contains(lines, line => line.StartsWith("shim: error: ", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", error.ToString());
    }
}
