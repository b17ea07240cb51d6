using System.Text;
using Serilog;
using Shim.GuestImages.Config.Libvirt;
using Shim.GuestImages.Config.Xl;
using Shim.GuestImages.Spec;

namespace Shim.GuestImages.Config;

/// <summary>
/// Turns a host configuration — Xen xl.cfg, xend/xm Python files, or libvirt domain XML — into Shim's
/// <see cref="GuestSpec"/>, listing every setting that did not carry over. Malformed input raises
/// <see cref="GuestConfigException"/> with a one-line, located message; nothing else escapes for bad input.
/// </summary>
public sealed class GuestConfigImporter(GuestConfigImportOptions options, ILogger logger)
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads and imports a file. <paramref name="format"/> null means detect it from the content.</summary>
    public GuestSpec ImportFile(string path, GuestConfigFormat? format = null)
    {
        string text;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
                throw new GuestConfigException(path, "no such file");
            if (info.Length > options.MaxFileBytes)
                throw new GuestConfigException(path, $"{info.Length} bytes is too large for a guest configuration (limit {options.MaxFileBytes})");
            text = StrictUtf8.GetString(File.ReadAllBytes(path));
        }
        catch (DecoderFallbackException)
        {
            throw new GuestConfigException(path, "not UTF-8 text (is this a disk or kernel image rather than a configuration?)");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GuestConfigException(path, $"cannot be read: {e.Message}");
        }
        return Import(text, path, format);
    }

    /// <summary>Imports configuration text; <paramref name="sourceName"/> is used in messages and in the spec's source.</summary>
    public GuestSpec Import(string text, string sourceName, GuestConfigFormat? format = null)
    {
        if (text.Length > options.MaxFileBytes)
            throw new GuestConfigException(sourceName, $"{text.Length} characters is too large for a guest configuration (limit {options.MaxFileBytes})");
        if (text.Length > 0 && text[0] == '\uFEFF')
            text = text[1..];

        var spec = (format ?? DetectFormat(text)) switch
        {
            GuestConfigFormat.Libvirt => LibvirtDomainImporter.Import(text, Source(GuestConfigFormat.Libvirt, sourceName), options.MaxFileBytes),
            GuestConfigFormat.Xm => ImportXl(text, sourceName, GuestConfigFormat.Xm),
            GuestConfigFormat.Xl when format is null => ImportXlOrXm(text, sourceName),
            _ => ImportXl(text, sourceName, GuestConfigFormat.Xl),
        };
        logger.Debug("Imported {Source} as {Format}: {DiagnosticCount} setting(s) not carried over",
            sourceName, spec.Source.Format, spec.Diagnostics.Count);
        return spec;
    }

    /// <summary>XML is libvirt; anything else is read as xl (and as xm if only the Python dialect accepts it).</summary>
    public static GuestConfigFormat DetectFormat(string text) =>
        text.AsSpan().TrimStart().StartsWith("<") ? GuestConfigFormat.Libvirt : GuestConfigFormat.Xl;

    private GuestSpec ImportXlOrXm(string text, string sourceName)
    {
        try
        {
            return ImportXl(text, sourceName, GuestConfigFormat.Xl);
        }
        catch (GuestConfigException xlError)
        {
            try
            {
                return ImportXl(text, sourceName, GuestConfigFormat.Xm);
            }
            catch (GuestConfigException)
            {
                throw xlError;
            }
        }
    }

    private GuestSpec ImportXl(string text, string sourceName, GuestConfigFormat dialect)
    {
        var settings = XlConfigParser.Parse(text, sourceName, dialect, options.MaxListItems);
        return XlSpecImporter.Import(settings, Source(dialect, sourceName));
    }

    private static GuestSpecSource Source(GuestConfigFormat format, string path) => new(GuestConfigFormatNames.Name(format), path);
}
