namespace Shim.GuestImages.Config.Xl;

/// <summary>A value in an xl/xm file: a string, an integer, a Python boolean/None (xm only) or a list.</summary>
internal abstract record XlValue
{
    /// <summary>The value as a person would write it, for diagnostics.</summary>
    public abstract string Display { get; }
}

internal sealed record XlString(string Value) : XlValue
{
    public override string Display => Value;
}

internal sealed record XlNumber(long Value, string Text) : XlValue
{
    public override string Display => Text;
}

/// <summary>Python <c>True</c>/<c>False</c> in xm files.</summary>
internal sealed record XlBoolean(bool Value) : XlValue
{
    public override string Display => Value ? "True" : "False";
}

/// <summary>Python <c>None</c> in xm files: the setting is explicitly unset.</summary>
internal sealed record XlNone : XlValue
{
    public override string Display => "None";
}

internal sealed record XlList(IReadOnlyList<XlValue> Items) : XlValue
{
    public override string Display => "[" + string.Join(", ", Items.Select(i => i is XlString s ? $"'{s.Value}'" : i.Display)) + "]";
}

/// <summary>
/// One <c>key = value</c> statement and the line it starts on. For <c>key += value</c> the parser has already
/// folded the earlier value in and sets <paramref name="Appended"/>.
/// </summary>
internal sealed record XlSetting(string Key, XlValue Value, int Line, bool Appended = false);
