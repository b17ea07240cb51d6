namespace Shim.Cli.Regress;

/// <summary>What changed between two `shim regress` result files: per entry status, end, and calls used / denied / unimplemented.</summary>
public sealed record RegressComparison(IReadOnlyList<string> Regressions, IReadOnlyList<string> Improvements, IReadOnlyList<string> Changes)
{
    public static RegressComparison Compare(RegressRun before, RegressRun after)
    {
        var regressions = new List<string>();
        var improvements = new List<string>();
        var changes = new List<string>();
        var old = before.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        var now = after.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        foreach (var name in old.Keys.Union(now.Keys).Order(StringComparer.Ordinal))
        {
            if (!now.TryGetValue(name, out var b))
            {
                changes.Add($"{name}: removed (was {old[name].Status})");
                continue;
            }
            if (!old.TryGetValue(name, out var a))
            {
                (b.IsFailure ? regressions : changes).Add($"{name}: new entry, {b.Status}{(b.Reason.Length > 0 ? ": " + b.Reason : "")}");
                continue;
            }
            if (a.Status != b.Status)
            {
                var line = $"{name}: {a.Status} → {b.Status}{(b.Reason.Length > 0 ? ": " + b.Reason : "")}";
                if (b.IsFailure && !a.IsFailure)
                    regressions.Add(line);
                else if (a.IsFailure && !b.IsFailure)
                    improvements.Add(line);
                else
                    changes.Add(line);
            }
            else if (a.End != b.End)
            {
                changes.Add($"{name}: ended {a.End} → {b.End}");
            }
            changes.AddRange(CallChanges(name, a.Stats, b.Stats));
        }
        return new RegressComparison(regressions, improvements, changes);
    }

    private static IEnumerable<string> CallChanges(string name, RunStatsDocument? a, RunStatsDocument? b)
    {
        if (a is null || b is null)
            yield break;
        var before = a.Policy.ToDictionary(c => c.Call, StringComparer.Ordinal);
        var after = b.Policy.ToDictionary(c => c.Call, StringComparer.Ordinal);
        var added = after.Keys.Except(before.Keys).Order(StringComparer.Ordinal).ToList();
        var dropped = before.Keys.Except(after.Keys).Order(StringComparer.Ordinal).ToList();
        if (added.Count > 0)
            yield return $"{name}: now calls {string.Join(", ", added)}";
        if (dropped.Count > 0)
            yield return $"{name}: no longer calls {string.Join(", ", dropped)}";
        foreach (var call in after.Keys.Intersect(before.Keys).Order(StringComparer.Ordinal))
        {
            var (x, y) = (before[call], after[call]);
            foreach (var (what, was, isNow) in new[] { ("denied", x.Denied + x.RateLimited, y.Denied + y.RateLimited), ("emulated", x.Emulated, y.Emulated), ("unimplemented", x.Unimplemented, y.Unimplemented) })
            {
                if ((was == 0) != (isNow == 0))
                    yield return $"{name}: {call} {what} {was} → {isNow}";
            }
        }
    }
}
