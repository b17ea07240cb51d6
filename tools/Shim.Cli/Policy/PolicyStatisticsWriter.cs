namespace Shim.Cli.Policy;

/// <summary>The `--stats` lines for calls the policy did not simply let through, or that had no handler.</summary>
internal static class PolicyStatisticsWriter
{
    public static void Write(TextWriter output, IReadOnlyList<CallAccount> accounts)
    {
        var notable = accounts.Where(a => a.Denied + a.Emulated + a.RateLimited + a.Unimplemented > 0).ToList();
        output.WriteLine($"policy: {notable.Count} calls denied, emulated, rate-limited or unimplemented");
        foreach (var a in notable)
            output.WriteLine($"  {a.Call,-36} denied {a.Denied}, emulated {a.Emulated}, rate-limited {a.RateLimited}, unimplemented {a.Unimplemented} ({a.Rule})");
    }
}
