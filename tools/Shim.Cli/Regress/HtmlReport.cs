using System.Globalization;
using System.Net;
using System.Text;

namespace Shim.Cli.Regress;

/// <summary>
/// The self-contained HTML report: summary, a wall-time chart, and per guest its verdict, compatibility table
/// (calls handled / emulated / denied / unimplemented), exit and hypercall charts and console log. Inline CSS and
/// SVG only, so it can be attached to a CI run and opened anywhere.
/// </summary>
public static class HtmlReport
{
    private const int ConsoleTailChars = 128 * 1024;

    private const string Style = """
        body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#1d2330;padding:0 1rem}
        h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #d8dde6;padding-bottom:.2rem}
        .meta{color:#5b6578}.badge{display:inline-block;padding:.1rem .55rem;border-radius:.7rem;font-weight:600;font-size:.85rem;color:#fff}
        .pass{background:#2e8540}.fail{background:#c62828}.xfail{background:#9e7700}.xpass{background:#6a3fb5}
        table{border-collapse:collapse;width:100%;margin:.6rem 0}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e4e8ef;vertical-align:top}
        th{background:#f3f5f9;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
        details{border:1px solid #d8dde6;border-radius:6px;margin:.8rem 0;padding:.4rem .8rem}summary{cursor:pointer;font-weight:600}
        pre{background:#10151f;color:#e6e9ef;padding:.7rem;border-radius:4px;overflow:auto;max-height:28rem;font-size:12.5px}
        svg.chart text{font:12px system-ui,sans-serif;fill:#1d2330}svg.chart text.title{font-weight:600}
        .charts{display:flex;flex-wrap:wrap;gap:1rem}.empty{color:#5b6578;font-style:italic}.reason{color:#8a1c1c}
        """;

    public static string Build(RegressRun run, Func<EntryResult, string> consoleOf)
    {
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        html.Append("<title>shim regress — ").Append(E(run.Catalog)).Append("</title><style>").Append(Style).Append("</style></head><body>\n");
        html.Append("<h1>shim regress</h1><p class=\"meta\">catalog ").Append(E(run.Catalog))
            .Append(CultureInfo.InvariantCulture, $" · shard {run.Shard} · {run.Jobs} jobs · started {run.Started.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC · {run.WallSeconds:0.0} s</p>\n<p>");
        foreach (var status in Enum.GetValues<EntryStatus>())
            html.Append(CultureInfo.InvariantCulture, $"<span class=\"badge {Css(status)}\">{run.Count(status)} {Label(status)}</span> ");
        html.Append("</p>\n");

        html.Append("<h2>Summary</h2><table><thead><tr><th>Guest</th><th>Result</th><th>Ended</th><th class=\"num\">Time (s)</th><th class=\"num\">Exits</th><th class=\"num\">Calls</th><th class=\"num\">Patterns</th><th>Reason</th></tr></thead><tbody>\n");
        foreach (var entry in run.Entries)
        {
            html.Append(CultureInfo.InvariantCulture,
                $"<tr><td><a href=\"#g-{E(entry.Name)}\">{E(entry.Name)}</a></td><td><span class=\"badge {Css(entry.Status)}\">{Label(entry.Status)}</span></td><td>{E(entry.End)}</td>" +
                $"<td class=\"num\">{entry.WallSeconds:0.00}</td><td class=\"num\">{entry.Stats?.Exits.Values.Sum() ?? 0:N0}</td><td class=\"num\">{entry.Stats?.Calls.Values.Sum() ?? 0:N0}</td>" +
                $"<td class=\"num\">{entry.PatternsMatched}/{entry.Patterns.Count}</td><td class=\"reason\">{E(entry.Reason)}</td></tr>\n");
        }
        html.Append("</tbody></table>\n<div class=\"charts\">");
        html.Append(SvgBarChart.Render("Wall time per guest", [.. run.Entries.Select(e => (e.Name, Math.Round(e.WallSeconds, 2)))], " s", "#6b8e23"));
        html.Append(SvgBarChart.Render("VM exits per guest", [.. run.Entries.Select(e => (e.Name, (double)(e.Stats?.Exits.Values.Sum() ?? 0)))], "", "#c0692b"));
        html.Append("</div>\n<h2>Guests</h2>\n");

        foreach (var entry in run.Entries)
            AppendGuest(html, entry, consoleOf(entry));
        html.Append("</body></html>\n");
        return html.ToString();
    }

    private static void AppendGuest(StringBuilder html, EntryResult entry, string console)
    {
        html.Append(CultureInfo.InvariantCulture, $"<details id=\"g-{E(entry.Name)}\"{(entry.Status == EntryStatus.Fail ? " open" : "")}><summary>{E(entry.Name)} <span class=\"badge {Css(entry.Status)}\">{Label(entry.Status)}</span></summary>\n");
        html.Append(CultureInfo.InvariantCulture, $"<p>ended <b>{E(entry.End)}</b> (expected {E(entry.ExpectedEnd)}){(entry.ExitCode is { } code ? $", exit code {code}" : "")}, {entry.WallSeconds:0.00} s");
        if (entry.Tags.Count > 0)
            html.Append(", tags ").Append(E(string.Join(", ", entry.Tags)));
        html.Append("</p>");
        if (entry.Reason.Length > 0)
            html.Append("<p class=\"reason\">").Append(E(entry.Reason)).Append("</p>");
        if (entry.KnownFailing is { } known)
            html.Append("<p>Known failing: ").Append(E(known)).Append("</p>");
        if (entry.Patterns.Count > 0)
        {
            html.Append("<p>Console patterns, in order:</p><ol>");
            for (var i = 0; i < entry.Patterns.Count; i++)
                html.Append(i < entry.PatternsMatched ? "<li>✔ " : "<li>✘ ").Append("<code>").Append(E(entry.Patterns[i])).Append("</code></li>");
            html.Append("</ol>");
        }
        if (entry.Stats is { } stats)
        {
            html.Append("<div class=\"charts\">");
            html.Append(SvgBarChart.Render("Exits by kind", [.. stats.Exits.OrderByDescending(e => e.Value).Select(e => (e.Key, (double)e.Value))], "", "#c0692b"));
            html.Append(SvgBarChart.Render("Hypercalls by kind", [.. stats.Calls.OrderByDescending(c => c.Value).Select(c => (c.Key, (double)c.Value))]));
            html.Append("</div>");
            html.Append("<table><thead><tr><th>Call</th><th>Policy rule</th><th class=\"num\">Calls</th><th class=\"num\">Handled</th><th class=\"num\">Emulated</th><th class=\"num\">Denied</th><th class=\"num\">Rate-limited</th><th class=\"num\">Unimplemented</th></tr></thead><tbody>");
            foreach (var call in stats.Policy)
            {
                html.Append(CultureInfo.InvariantCulture,
                    $"<tr><td><code>{E(call.Call)}</code></td><td>{E(call.Rule)}</td><td class=\"num\">{call.Calls:N0}</td><td class=\"num\">{call.Handled:N0}</td><td class=\"num\">{call.Emulated:N0}</td>" +
                    $"<td class=\"num\">{call.Denied:N0}</td><td class=\"num\">{call.RateLimited:N0}</td><td class=\"num\">{call.Unimplemented:N0}</td></tr>");
            }
            html.Append("</tbody></table>");
        }
        else
        {
            html.Append("<p class=\"empty\">No statistics: the run did not get far enough to write them.</p>");
        }
        var shown = console.Length > ConsoleTailChars ? "…\n" + console[^ConsoleTailChars..] : console;
        html.Append("<p>Console").Append(entry.ConsoleLog.Length > 0 ? $" (<a href=\"{E(entry.ConsoleLog)}\">{E(entry.ConsoleLog)}</a>)" : "").Append(":</p><pre>")
            .Append(shown.Length > 0 ? E(shown) : "(no output)").Append("</pre></details>\n");
    }

    private static string E(string text) => WebUtility.HtmlEncode(JUnitReport.XmlSafe(text));

    private static string Css(EntryStatus status) => status.ToString().ToLowerInvariant();

    private static string Label(EntryStatus status) => status switch
    {
        EntryStatus.Pass => "passed",
        EntryStatus.Fail => "failed",
        EntryStatus.XFail => "known failing",
        _ => "unexpectedly passed",
    };
}
