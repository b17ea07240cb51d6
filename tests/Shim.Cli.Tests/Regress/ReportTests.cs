using System.Text.RegularExpressions;
using System.Xml.Linq;
using Shim.Cli.Policy;
using Shim.Cli.Regress;
using Xunit;

namespace Shim.Cli.Tests.Regress;

public sealed class ReportTests
{
    private static EntryResult Result(string name, EntryStatus status, string reason = "", RunStatsDocument? stats = null) => new()
    {
        Name = name,
        Status = status,
        Reason = reason,
        ExpectedEnd = "PowerOff",
        End = status == EntryStatus.Pass ? "PowerOff" : "Crash",
        WallSeconds = 1.5,
        PatternsMatched = status == EntryStatus.Pass ? 2 : 0,
        Patterns = ["boot", "done"],
        ConsoleLog = name + "/console.log",
        Stats = stats,
        Tags = ["pv64"],
        KnownFailing = status == EntryStatus.XFail ? "adapter bug" : null,
    };

    private static RunStatsDocument Stats(params (string Call, long Denied, long Unimplemented)[] calls) => new()
    {
        Adapter = "xen-pv",
        End = "PowerOff",
        Message = "",
        WallSeconds = 1,
        Exits = new() { ["Syscall"] = 40, ["Hlt"] = 2 },
        Calls = new() { ["ConsoleIo"] = 30, ["SchedOp"] = 1 },
        Policy = [.. calls.Select(c => new CallAccount(c.Call, "default: allow", 10, 10 - c.Denied, c.Denied, 0, 0, c.Unimplemented))],
    };

    private static RegressRun Run(params EntryResult[] entries) => new()
    {
        Catalog = "guest-images/catalog",
        Started = new DateTimeOffset(2026, 11, 23, 12, 0, 0, TimeSpan.Zero),
        WallSeconds = 4,
        Shard = "1/1",
        Jobs = 2,
        Entries = entries,
    };

    [Fact]
    public void JUnit_counts_failures_marks_known_failures_skipped_and_keeps_console_xml_safe()
    {
        var run = Run(Result("ok", EntryStatus.Pass), Result("bad", EntryStatus.Fail, "pattern 1/2 never appeared"), Result("known", EntryStatus.XFail, "crash"));

        var xml = XDocument.Parse(JUnitReport.Build(run, e => e.Name == "bad" ? "panic\u0001\u001b[0m here" : "").ToString());

        var suite = xml.Root!.Element("testsuite")!;
        Assert.Equal(("3", "1", "1"), ((string)suite.Attribute("tests")!, (string)suite.Attribute("failures")!, (string)suite.Attribute("skipped")!));
        var bad = suite.Elements("testcase").Single(t => (string)t.Attribute("name")! == "bad");
        Assert.Equal("pattern 1/2 never appeared", (string)bad.Element("failure")!.Attribute("message")!);
        Assert.Contains("panic", (string)bad.Element("system-out")!);
        Assert.DoesNotContain('\u0001', (string)bad.Element("system-out")!);
        Assert.NotNull(suite.Elements("testcase").Single(t => (string)t.Attribute("name")! == "known").Element("skipped"));
        Assert.Empty(suite.Elements("testcase").Single(t => (string)t.Attribute("name")! == "ok").Elements());
    }

    [Fact]
    public void Html_is_self_contained_with_well_formed_svg_charts_and_escaped_console()
    {
        var run = Run(Result("ok", EntryStatus.Pass, stats: Stats(("console_io.write", 0, 0))), Result("bad", EntryStatus.Fail, "guest ended Crash"));

        var html = HtmlReport.Build(run, e => e.Name == "ok" ? "<script>alert(1)</script> & done" : "");

        Assert.StartsWith("<!DOCTYPE html>", html);
        Assert.DoesNotContain("<script>", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; done", html);
        Assert.DoesNotMatch(new Regex("(src|href)=\"https?:"), html);
        var charts = Regex.Matches(html, "<svg.*?</svg>", RegexOptions.Singleline).Select(m => XElement.Parse(m.Value)).ToList();
        // Two overview charts and, for the guest with statistics, exits and hypercalls.
        Assert.Equal(4, charts.Count);
        Assert.All(charts, c => Assert.NotEmpty(c.Elements("{http://www.w3.org/2000/svg}rect")));
        Assert.Contains("<code>console_io.write</code>", html);
        Assert.Contains("id=\"g-bad\" open", html);
        Assert.Contains("No statistics", html);
    }

    [Fact]
    public void Html_body_parses_as_balanced_markup()
    {
        var run = Run(Result("ok", EntryStatus.Pass, stats: Stats(("xen_version", 1, 0))), Result("k", EntryStatus.XFail, "x"));
        var html = HtmlReport.Build(run, _ => "line 1\nline 2");

        // Void elements aside, the report is balanced XML: a truncated or mis-nested report fails here.
        var start = html.IndexOf("<body>", StringComparison.Ordinal);
        var end = html.IndexOf("</body>", StringComparison.Ordinal) + "</body>".Length;
        var body = XElement.Parse(html[start..end]);
        Assert.Equal(2, body.Descendants("details").Count());
    }

    [Fact]
    public void Compare_reports_regressions_improvements_and_call_changes()
    {
        var before = Run(Result("a", EntryStatus.Pass, stats: Stats(("console_io.write", 0, 0), ("sysctl", 0, 1))), Result("b", EntryStatus.Fail, "x"), Result("gone", EntryStatus.Pass));
        var after = Run(Result("a", EntryStatus.Fail, "crash", Stats(("console_io.write", 3, 0), ("memory_op.exchange", 0, 0))), Result("b", EntryStatus.Pass), Result("new", EntryStatus.Fail, "y"));

        var diff = RegressComparison.Compare(before, after);

        Assert.Equal(["a: Pass → Fail: crash", "new: new entry, Fail: y"], diff.Regressions);
        Assert.Equal(["b: Fail → Pass"], diff.Improvements);
        Assert.Contains("a: now calls memory_op.exchange", diff.Changes);
        Assert.Contains("a: no longer calls sysctl", diff.Changes);
        Assert.Contains("a: console_io.write denied 0 → 3", diff.Changes);
        Assert.Contains("gone: removed (was Pass)", diff.Changes);
    }

    [Fact]
    public void Result_files_round_trip_through_json()
    {
        var run = Run(Result("a", EntryStatus.XPass, stats: Stats(("console_io.write", 1, 0))));

        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, run.ToJson());
            var back = RegressRun.Read(file);
            Assert.Equal(EntryStatus.XPass, back.Entries[0].Status);
            Assert.Equal(1, back.Entries[0].Stats!.Policy[0].Denied);
            Assert.Equal(40, back.Entries[0].Stats!.Exits["Syscall"]);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
