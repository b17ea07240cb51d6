using System.CommandLine;

namespace Shim.Cli.Hosting;

/// <summary>Builds the root command from <see cref="CommandCatalog"/> and maps failures to one-line errors and exit codes.</summary>
public static class ShimApplication
{
    public static async Task<int> RunAsync(string[] args, CliContext? context = null)
    {
        context ??= new CliContext();
        var root = new RootCommand("shim: run legacy paravirtualized guests (Xen-PV, VMI) on Linux KVM");
        root.Options.Add(CliContext.ConfigFileOption);
        root.Options.Add(CliContext.SetOption);
        root.Options.Add(CliContext.LogLevelOption);
        root.Options.Add(CliContext.LogJsonOption);
        foreach (var command in CommandCatalog.All)
            root.Subcommands.Add(command.Build(context));

        var parse = root.Parse(args);
        // Usage errors get the documented exit code 2 (System.CommandLine's own default is 1) and one line each.
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors)
                await context.Error.WriteLineAsync($"shim: error: {error.Message}");
            await context.Error.WriteLineAsync("shim: see 'shim --help' or 'shim COMMAND --help'");
            return ExitCodes.UsageError;
        }
        context.Bind(parse);
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = context.Out, Error = context.Error });
        }
        catch (CliError e)
        {
            await context.Error.WriteLineAsync($"shim: error: {e.Message}");
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            await context.Error.WriteLineAsync("shim: interrupted");
            return ExitCodes.Interrupted;
        }
        finally
        {
            await Serilog.Log.CloseAndFlushAsync();
        }
    }
}
