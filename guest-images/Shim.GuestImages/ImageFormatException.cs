namespace Shim.GuestImages;

/// <summary>What kind of problem an image has; lets callers and tests tell failures apart without parsing text.</summary>
public enum ImageErrorKind
{
    /// <summary>No loader recognises the file.</summary>
    UnrecognisedFormat,
    /// <summary>The file ends before a structure it announces.</summary>
    Truncated,
    /// <summary>An offset, size or address points outside the file or wraps around.</summary>
    OutOfBounds,
    /// <summary>A field holds a value that the format does not allow.</summary>
    InvalidField,
    /// <summary>Two loadable segments claim the same addresses.</summary>
    OverlappingSegments,
    /// <summary>Compressed data is damaged (bad checksum, bad stream).</summary>
    CorruptCompressedData,
    /// <summary>Decompressed output would exceed the configured limit (decompression bomb).</summary>
    OutputLimitExceeded,
    /// <summary>A well-formed feature that Shim does not implement (e.g. LZO payloads).</summary>
    Unsupported,
}

/// <summary>
/// The one error type image parsing throws for bad input. The message names the field and the values involved;
/// the kind classifies it. Internal bugs are not wrapped: they surface as ordinary exceptions.
/// </summary>
public sealed class ImageFormatException : Exception
{
    public ImageFormatException(ImageErrorKind kind, string field, string message, Exception? inner = null)
        : base($"{field}: {message}", inner)
    {
        Kind = kind;
        Field = field;
    }

    public ImageErrorKind Kind { get; }

    /// <summary>The structure/field at fault, e.g. "ELF program header 3 p_offset".</summary>
    public string Field { get; }
}
