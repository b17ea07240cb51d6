namespace Shim.Cli.Regress;

/// <summary>How a catalog entry's guest is expected to stop.</summary>
public enum ExpectedEnd
{
    PowerOff,
    Crash,
    Reboot,

    /// <summary>The guest is expected to run until its timeout stops it (`shim run` exit code 6), e.g. a spin test.</summary>
    Timeout,

    /// <summary>The guest keeps running (a boot loader at its prompt): it is stopped once every pattern has appeared.</summary>
    Running,
}

/// <summary>Where an image comes from: a path, or a file inside a Debian package fetched into the cache.</summary>
public sealed record ImageSource(string? Path, string? Package, string? PackageFile);

/// <summary>Text typed to the guest console, once <see cref="After"/> has appeared (or at start when it is null).</summary>
public sealed record ConsoleInputStep(string? After, string Send);

/// <summary>
/// One archived guest of the regression catalog. <see cref="KnownFailing"/> marks an entry that does not pass yet
/// (with the reason): its failure is reported as expected (xfail), its success as a surprise (xpass).
/// </summary>
public sealed record CatalogEntry
{
    public required string Name { get; init; }

    public required ImageSource Image { get; init; }

    public string? Abi { get; init; }

    public string? Memory { get; init; }

    /// <summary>shim run --vcpus (the count is checked by shim run).</summary>
    public string? Vcpus { get; init; }

    public string? Cmdline { get; init; }

    public ImageSource? Initrd { get; init; }

    public string? Policy { get; init; }

    public IReadOnlyList<ConsoleInputStep> Input { get; init; } = [];

    /// <summary>Console substrings that must appear, in this order.</summary>
    public IReadOnlyList<string> Expect { get; init; } = [];

    public ExpectedEnd Shutdown { get; init; } = ExpectedEnd.PowerOff;

    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    public IReadOnlyList<string> Tags { get; init; } = [];

    public string? KnownFailing { get; init; }

    /// <summary>The catalog file the entry came from (relative paths resolve against its folder).</summary>
    public required string CatalogFile { get; init; }
}
