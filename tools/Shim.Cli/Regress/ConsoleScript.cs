using System.Text;

namespace Shim.Cli.Regress;

/// <summary>
/// Follows a guest's console output: matches the expected patterns in order and says when each input step is
/// due (its <c>after</c> text appeared after the previous step was sent). Keeps only a bounded tail of the text.
/// </summary>
public sealed class ConsoleScript(IReadOnlyList<string> patterns, IReadOnlyList<ConsoleInputStep> input)
{
    private const int MaxPending = 1 << 20;

    private readonly StringBuilder _patternText = new();
    private readonly StringBuilder _inputText = new();
    private int _nextInput;

    public int Matched { get; private set; }

    public bool AllMatched => Matched == patterns.Count;

    public bool InputDone => _nextInput == input.Count;

    /// <summary>Feeds console text; returns the input to type now (empty when nothing is due).</summary>
    public string Feed(string text)
    {
        _patternText.Append(text);
        while (Matched < patterns.Count)
        {
            var at = _patternText.ToString().IndexOf(patterns[Matched], StringComparison.Ordinal);
            if (at < 0)
                break;
            _patternText.Remove(0, at + patterns[Matched].Length);
            Matched++;
        }
        Trim(_patternText, Matched < patterns.Count ? patterns[Matched].Length : 0);

        _inputText.Append(text);
        var send = new StringBuilder();
        while (_nextInput < input.Count)
        {
            var step = input[_nextInput];
            if (step.After is { } after)
            {
                var at = _inputText.ToString().IndexOf(after, StringComparison.Ordinal);
                if (at < 0)
                    break;
                _inputText.Clear();
            }
            send.Append(step.Send);
            _nextInput++;
        }
        Trim(_inputText, _nextInput < input.Count ? input[_nextInput].After?.Length ?? 0 : 0);
        return send.ToString();
    }

    // A pattern can straddle chunks, so keep enough of the tail to still find it; never grow without bound.
    private static void Trim(StringBuilder text, int keep)
    {
        if (text.Length > MaxPending)
            text.Remove(0, text.Length - Math.Max(keep, 1));
    }
}
