using System.Globalization;
using System.Net;
using System.Text;

namespace Shim.Cli.Regress;

/// <summary>A horizontal bar chart as inline SVG (no scripts, no external files), one bar per row, value printed beside it.</summary>
public static class SvgBarChart
{
    private const int LabelWidth = 220;
    private const int BarArea = 420;
    private const int RowHeight = 20;

    public static string Render(string title, IReadOnlyList<(string Label, double Value)> rows, string unit = "", string colour = "#3b7dd8")
    {
        if (rows.Count == 0)
            return $"<p class=\"empty\">{WebUtility.HtmlEncode(title)}: none</p>";
        var max = rows.Max(r => r.Value);
        var height = 24 + rows.Count * RowHeight;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{LabelWidth + BarArea + 110}\" height=\"{height}\" aria-label=\"{WebUtility.HtmlEncode(title)}\">");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"0\" y=\"14\" class=\"title\">{WebUtility.HtmlEncode(title)}</text>");
        for (var i = 0; i < rows.Count; i++)
        {
            var (label, value) = rows[i];
            var y = 24 + i * RowHeight;
            var width = max > 0 ? Math.Max(1, value / max * BarArea) : 1;
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{LabelWidth - 6}\" y=\"{y + 14}\" text-anchor=\"end\">{WebUtility.HtmlEncode(Shorten(label))}</text>");
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{LabelWidth}\" y=\"{y + 3}\" width=\"{width:0.#}\" height=\"{RowHeight - 6}\" fill=\"{colour}\"><title>{WebUtility.HtmlEncode(label)}: {Format(value)}{unit}</title></rect>");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{LabelWidth + width + 6:0.#}\" y=\"{y + 14}\">{Format(value)}{WebUtility.HtmlEncode(unit)}</text>");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    private static string Format(double value) =>
        value == Math.Floor(value) ? value.ToString("N0", CultureInfo.InvariantCulture) : value.ToString("0.00", CultureInfo.InvariantCulture);

    private static string Shorten(string label) => label.Length <= 32 ? label : label[..31] + "…";
}
