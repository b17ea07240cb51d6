namespace Shim.GuestImages.Config;

/// <summary>
/// The configuration cannot be imported: unreadable, too large, or malformed. <see cref="Exception.Message"/> is
/// one line that starts with the location (<c>file:line:</c> or <c>file: &lt;element&gt;:</c>).
/// </summary>
public sealed class GuestConfigException : Exception
{
    public GuestConfigException(string location, string problem)
        : base($"{location}: {problem}")
    {
        Location = location;
        Problem = problem;
    }

    public GuestConfigException(string location, string problem, Exception inner)
        : base($"{location}: {problem}", inner)
    {
        Location = location;
        Problem = problem;
    }

    /// <summary>File and line (<c>domu.cfg:12</c>) or file and element (<c>domu.xml: &lt;memory&gt;</c>).</summary>
    public string Location { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }
}
