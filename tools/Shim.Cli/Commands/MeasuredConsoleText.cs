using System.Text.RegularExpressions;

namespace Shim.Cli.Commands;

/// <summary>
/// Console text with what a guest measures afresh on every boot masked, so two runs of the same guest compare
/// equal: GRUB's loader speed readouts ("[ grub.cfg  620B  100%  2.09KiB/s ]", right-aligned with a cursor move
/// whose column depends on the text), Linux printk timestamps, and the numbers on Linux lines that report a
/// calibration, the wall clock or sched_clock offsets.
/// </summary>
public static partial class MeasuredConsoleText
{
    public static string Mask(string console)
    {
        var text = ProgressReadout().Replace(console, "<progress>");
        text = PrintkTimestamp().Replace(text, "");
        return MeasuredLinuxLine().Replace(text, line => Number().Replace(line.Value, "#"));
    }

    [GeneratedRegex(@"(\x1b\[\d+;\d+H)?\s*\[ [^\]\n]*\d+(\.\d+)?[KMG]?i?B/s \]")]
    private static partial Regex ProgressReadout();

    [GeneratedRegex(@"^\[ *\d+\.\d+\] ", RegexOptions.Multiline)]
    private static partial Regex PrintkTimestamp();

    [GeneratedRegex(@"^(tsc: Detected|clocksource: tsc|Calibrating delay loop|audit: type=2000|sched_clock: Marking stable).*$", RegexOptions.Multiline)]
    private static partial Regex MeasuredLinuxLine();

    [GeneratedRegex(@"0x[0-9a-f]+|\d+(\.\d+)?")]
    private static partial Regex Number();
}
