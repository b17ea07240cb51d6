namespace Shim.GuestImages.Config;

/// <summary>
/// The configuration cannot be imported: unreadable, too large, or malformed. <see cref="Exception.Message"/> is
/// one line that starts with the location (<c>file:line:</c> or <c>file: &lt;element&gt;:</c>).
/// </summary>
public sealed class GuestConfigException : Exception
{
    public GuestConfigException(string location, string problem)
        : base($"{OneLine(location)}: {OneLine(problem)}")
    {
        Location = OneLine(location);
        Problem = OneLine(problem);
    }

    public GuestConfigException(string location, string problem, Exception inner)
        : base($"{OneLine(location)}: {OneLine(problem)}", inner)
    {
        Location = OneLine(location);
        Problem = OneLine(problem);
    }

    /// <summary>File and line (<c>domu.cfg:12</c>) or file and element (<c>domu.xml: &lt;memory&gt;</c>).</summary>
    public string Location { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }

    /// <summary>Values quoted from the input may hold line breaks or control characters; the message stays one line.</summary>
    private static string OneLine(string text)
    {
        if (!text.Any(char.IsControl))
            return text;
        var builder = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            builder.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        }
        return builder.ToString();
    }
}
