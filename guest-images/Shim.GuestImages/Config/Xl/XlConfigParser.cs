using System.Globalization;
using System.Text;

namespace Shim.GuestImages.Config.Xl;

/// <summary>
/// Reads the xl.cfg(5) syntax — <c>KEY = VALUE</c> statements ended by a newline or <c>;</c>, values that are
/// single- or double-quoted strings, integers (decimal or 0x hex) or <c>[ … ]</c> lists that may span lines
/// and end with a comma, <c>#</c> comments, <c>+=</c> to append — and, in <see cref="GuestConfigFormat.Xm"/>
/// mode, the plain-assignment subset of xend's Python files (<c>True</c>/<c>False</c>/<c>None</c>, tuples,
/// backslash line continuations). Anything else is a <see cref="GuestConfigException"/> naming file and line.
/// </summary>
internal sealed class XlConfigParser
{
    private const int MaxNesting = 4;

    private readonly string _text;
    private readonly string _file;
    private readonly bool _python;
    private readonly int _maxListItems;
    private int _pos;
    private int _line = 1;

    private XlConfigParser(string text, string file, GuestConfigFormat dialect, int maxListItems)
    {
        _text = text;
        _file = file;
        _python = dialect == GuestConfigFormat.Xm;
        _maxListItems = maxListItems;
    }

    public static IReadOnlyList<XlSetting> Parse(string text, string file, GuestConfigFormat dialect, int maxListItems) =>
        new XlConfigParser(text, file, dialect, maxListItems).ParseFile();

    private List<XlSetting> ParseFile()
    {
        var settings = new List<XlSetting>();
        while (true)
        {
            SkipBlanksAndComments(includeNewlines: true);
            if (AtEnd)
                return settings;
            if (Peek == ';')
            {
                _pos++;
                continue;
            }
            settings.Add(ParseStatement(settings));
        }
    }

    private XlSetting ParseStatement(List<XlSetting> earlier)
    {
        var line = _line;
        var key = ParseIdentifier();
        SkipBlanksAndComments(includeNewlines: false);
        var append = false;
        if (Peek == '+' && PeekAt(1) == '=')
        {
            append = true;
            _pos += 2;
        }
        else if (Peek == '=')
        {
            _pos++;
        }
        else
        {
            throw Error($"expected '=' after '{key}'{Found()}");
        }

        SkipBlanksAndComments(includeNewlines: false);
        if (AtEnd || Peek is '\n' or ';' or '#')
            throw Error($"'{key}' has no value");
        var value = ParseValue(depth: 0);
        ExpectEndOfStatement(key);

        if (!append)
            return new XlSetting(key, value, line);
        return new XlSetting(key, Append(key, earlier, value), line, Appended: true);
    }

    /// <summary>xl's <c>+=</c>: concatenates strings or lists onto the last value of the same key.</summary>
    private XlValue Append(string key, List<XlSetting> earlier, XlValue addition)
    {
        var previous = earlier.LastOrDefault(s => s.Key == key)?.Value;
        return (previous, addition) switch
        {
            (null, _) => addition,
            (XlString a, XlString b) => new XlString(a.Value + b.Value),
            (XlList a, XlList b) => new XlList([.. a.Items, .. b.Items]),
            _ => throw Error($"'{key} +=' must add a string to a string or a list to a list"),
        };
    }

    private void ExpectEndOfStatement(string key)
    {
        SkipBlanksAndComments(includeNewlines: false);
        if (AtEnd)
            return;
        if (Peek == '\n')
        {
            _pos++;
            _line++;
            return;
        }
        if (Peek == ';')
        {
            _pos++;
            return;
        }
        throw Error($"unexpected {Describe(Peek)} after the value of '{key}'");
    }

    private XlValue ParseValue(int depth)
    {
        var c = Peek;
        if (c is '"' or '\'')
            return new XlString(ParseString());
        if (c == '[' || (_python && c == '('))
            return ParseList(depth);
        if (char.IsAsciiDigit(c) || c == '-')
            return ParseNumber();
        if (char.IsAsciiLetter(c) || c == '_')
        {
            var word = ParseIdentifier();
            if (_python)
            {
                switch (word)
                {
                    case "True": return new XlBoolean(true);
                    case "False": return new XlBoolean(false);
                    case "None": return new XlNone();
                }
                throw Error($"'{word}' is a Python expression; only strings, numbers, True/False/None and lists are understood");
            }
            var hint = word is "True" or "False" or "None" ? " (Python-style files are read with --format xm)" : "";
            throw Error($"unquoted word '{word}': xl values are quoted strings, numbers or lists{hint}");
        }
        throw Error($"expected a value, found {Describe(c)}");
    }

    private XlList ParseList(int depth)
    {
        if (depth >= MaxNesting)
            throw Error($"lists nested more than {MaxNesting} deep");
        var open = Peek;
        var close = open == '[' ? ']' : ')';
        var openLine = _line;
        _pos++;
        var items = new List<XlValue>();
        while (true)
        {
            SkipBlanksAndComments(includeNewlines: true);
            if (AtEnd)
                throw new GuestConfigException($"{_file}:{openLine}", $"list opened with '{open}' is never closed");
            if (Peek == close)
            {
                _pos++;
                return new XlList(items);
            }
            if (items.Count >= _maxListItems)
                throw Error($"list has more than {_maxListItems} items");
            items.Add(ParseValue(depth + 1));
            SkipBlanksAndComments(includeNewlines: true);
            if (AtEnd)
                throw new GuestConfigException($"{_file}:{openLine}", $"list opened with '{open}' is never closed");
            if (Peek == ',')
            {
                _pos++;
                continue;
            }
            if (Peek != close)
                throw Error($"expected ',' or '{close}' in list, found {Describe(Peek)}");
        }
    }

    private XlNumber ParseNumber()
    {
        var start = _pos;
        if (Peek == '-')
            _pos++;
        while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek) || Peek == '_' || Peek == '.'))
            _pos++;
        var text = _text[start.._pos];
        var negative = text.StartsWith('-');
        var digits = negative ? text[1..] : text;
        long value;
        var ok = digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? long.TryParse(digits.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        if (!ok || digits.Length == 0)
            throw Error($"'{text}' is not an integer");
        return new XlNumber(negative ? -value : value, text);
    }

    private string ParseString()
    {
        var quote = Peek;
        var startLine = _line;
        _pos++;
        if (_python && PeekAt(0) == quote && PeekAt(1) == quote)
            throw Error("triple-quoted strings are not supported");
        var result = new StringBuilder();
        while (true)
        {
            if (AtEnd || Peek == '\n')
                throw new GuestConfigException($"{_file}:{startLine}", $"string starting with {quote} is not closed on the same line");
            var c = _text[_pos++];
            if (c == quote)
                return result.ToString();
            if (c == '\\' && (quote == '"' || _python))
                result.Append(ParseEscape());
            else
                result.Append(c);
        }
    }

    private string ParseEscape()
    {
        if (AtEnd)
            throw Error("string ends with a backslash");
        var c = _text[_pos++];
        switch (c)
        {
            case 'n': return "\n";
            case 't': return "\t";
            case 'r': return "\r";
            case '\\': return "\\";
            case '"': return "\"";
            case '\'': return "'";
            case 'x':
                if (_pos + 2 <= _text.Length
                    && byte.TryParse(_text.AsSpan(_pos, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b))
                {
                    _pos += 2;
                    return ((char)b).ToString();
                }
                throw Error("\\x must be followed by two hex digits");
            case '\n' when _python:
                // Python joins the lines of a string continued with a backslash.
                _line++;
                return "";
            case '\n':
                throw Error("a backslash-newline inside a string is not xl syntax (Python-style files are read with --format xm)");
            default:
                // Python and xl keep unknown escapes verbatim.
                return "\\" + c;
        }
    }

    private string ParseIdentifier()
    {
        if (AtEnd || !(char.IsAsciiLetter(Peek) || Peek == '_'))
            throw Error($"expected a setting name{Found()}");
        var start = _pos;
        while (!AtEnd && (char.IsAsciiLetterOrDigit(Peek) || Peek == '_'))
            _pos++;
        return _text[start.._pos];
    }

    /// <summary>Skips spaces, tabs, carriage returns, comments, and (when asked) newlines; xm also allows backslash continuations.</summary>
    private void SkipBlanksAndComments(bool includeNewlines)
    {
        while (!AtEnd)
        {
            var c = Peek;
            if (c is ' ' or '\t' or '\r' or '\f')
                _pos++;
            else if (c == '#')
                while (!AtEnd && Peek != '\n')
                    _pos++;
            else if (c == '\n' && includeNewlines)
            {
                _pos++;
                _line++;
            }
            else if (c == '\\' && PeekAt(1) == '\n')
            {
                _pos += 2;
                _line++;
            }
            else if (c == '\\' && PeekAt(1) == '\r' && PeekAt(2) == '\n')
            {
                _pos += 3;
                _line++;
            }
            else
                return;
        }
    }

    private bool AtEnd => _pos >= _text.Length;
    private char Peek => _pos < _text.Length ? _text[_pos] : '\0';
    private char PeekAt(int offset) => _pos + offset < _text.Length ? _text[_pos + offset] : '\0';

    private string Found() => AtEnd ? ", found the end of the file" : $", found {Describe(Peek)}";

    private static string Describe(char c) => c switch
    {
        '\0' => "a NUL byte",
        '\n' => "the end of the line",
        _ when char.IsControl(c) => $"control character U+{(int)c:X4}",
        _ => $"'{c}'",
    };

    private GuestConfigException Error(string problem) => new($"{_file}:{_line}", problem);
}
