using System.Globalization;
using System.Xml.Linq;

namespace Shim.Cli.Regress;

/// <summary>
/// JUnit XML for CI systems: one testcase per entry; failures carry the reason, known-failing entries are
/// "skipped" with their reason, and the tail of the guest console goes to system-out.
/// </summary>
public static class JUnitReport
{
    private const int ConsoleTailChars = 16 * 1024;

    public static XDocument Build(RegressRun run, Func<EntryResult, string> consoleOf)
    {
        var suite = new XElement("testsuite",
            new XAttribute("name", "shim-regress"),
            new XAttribute("tests", run.Entries.Count),
            new XAttribute("failures", run.Count(EntryStatus.Fail)),
            new XAttribute("errors", 0),
            new XAttribute("skipped", run.Count(EntryStatus.XFail)),
            new XAttribute("time", Seconds(run.WallSeconds)),
            new XAttribute("timestamp", run.Started.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
            new XElement("properties",
                new XElement("property", new XAttribute("name", "catalog"), new XAttribute("value", run.Catalog)),
                new XElement("property", new XAttribute("name", "shard"), new XAttribute("value", run.Shard))));
        foreach (var entry in run.Entries)
        {
            var testcase = new XElement("testcase",
                new XAttribute("classname", "regress." + (entry.Tags.Count > 0 ? entry.Tags[0] : "guest")),
                new XAttribute("name", entry.Name),
                new XAttribute("time", Seconds(entry.WallSeconds)));
            switch (entry.Status)
            {
                case EntryStatus.Fail:
                    testcase.Add(new XElement("failure", new XAttribute("message", entry.Reason), new XAttribute("type", entry.End), entry.Reason));
                    break;
                case EntryStatus.XFail:
                    testcase.Add(new XElement("skipped", new XAttribute("message", "known failing: " + entry.Reason)));
                    break;
            }
            var console = consoleOf(entry);
            if (console.Length > 0)
                testcase.Add(new XElement("system-out", XmlSafe(console.Length > ConsoleTailChars ? console[^ConsoleTailChars..] : console)));
            suite.Add(testcase);
        }
        return new XDocument(new XDeclaration("1.0", "utf-8", null), new XElement("testsuites",
            new XAttribute("name", "shim regress"),
            new XAttribute("tests", run.Entries.Count),
            new XAttribute("failures", run.Count(EntryStatus.Fail)),
            new XAttribute("time", Seconds(run.WallSeconds)),
            suite));
    }

    private static string Seconds(double seconds) => seconds.ToString("0.000", CultureInfo.InvariantCulture);

    // Guest consoles carry control characters XML 1.0 cannot hold.
    internal static string XmlSafe(string text) =>
        string.Create(text.Length, text, (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
                span[i] = XmlCharOk(source[i]) ? source[i] : '\uFFFD';
        });

    private static bool XmlCharOk(char c) => c is '\t' or '\n' or '\r' || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) || char.IsSurrogate(c);
}
