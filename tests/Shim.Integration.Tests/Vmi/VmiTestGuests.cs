using System.Diagnostics;
using Shim.Adapters.Contracts;
using Shim.Adapters.Vmi.Rom;
using Xunit;

namespace Shim.Integration.Tests.Vmi;

/// <summary>One row of guest-images/test-guests/vmi/manifest.tsv.</summary>
public sealed record VmiGuestCase(string Name, string Guest, string Rom, string ExpectedFile, GuestEnd End)
{
    public override string ToString() => Name;

    /// <summary>The ROM the VMM presents for this case; null = no ROM at all.</summary>
    public VmiRomOptions? RomOptions => Rom switch
    {
        "valid" => new VmiRomOptions(),
        "absent" => null,
        "bad-signature" => new VmiRomOptions { ValidVmiSignature = false },
        "bad-major" => new VmiRomOptions { ApiMajor = 2 },
        "no-licence" => new VmiRomOptions { Licence = null },
        "wrong-licence" => new VmiRomOptions { Licence = "Proprietary" },
        "no-pci" => new VmiRomOptions { IncludePciHeader = false },
        _ => throw new InvalidDataException($"manifest case {Name}: unknown ROM variant '{Rom}'"),
    };
}

/// <summary>
/// Builds the VMI test guests once per test run with guest-images/test-guests/vmi/build.sh (gcc -m32) into the
/// git-ignored .cache, and reads their manifest. A failed build fails the tests that need the guests.
/// </summary>
public static class VmiTestGuests
{
    private static readonly Lazy<string> Built = new(Build);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string SourceDirectory => Path.Combine(RepositoryRoot, "guest-images", "test-guests", "vmi");

    public static string PathOf(string guest) => Path.Combine(Built.Value, guest);

    public static string Expected(VmiGuestCase guestCase) =>
        File.ReadAllText(Path.Combine(SourceDirectory, "expected", guestCase.ExpectedFile));

    public static IReadOnlyList<VmiGuestCase> Cases() =>
        [.. File.ReadAllLines(Path.Combine(SourceDirectory, "manifest.tsv"))
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split('\t'))
            .Select(f => new VmiGuestCase(f[0], f[1], f[2], f[3], Enum.Parse<GuestEnd>(f[4])))];

    public static TheoryData<string> CaseNames() => [.. Cases().Select(c => c.Name)];

    private static string Build()
    {
        var output = Path.Combine(RepositoryRoot, ".cache", "test-guests", "vmi");
        var start = new ProcessStartInfo("bash", [Path.Combine(SourceDirectory, "build.sh"), output])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start bash to build the VMI test guests");
        var stderr = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"building the VMI test guests failed ({process.ExitCode}): {stderr.Result}");
        return output;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "Shim.sln")))
                return directory.FullName;
        throw new InvalidOperationException($"no Shim.sln above {AppContext.BaseDirectory}");
    }
}
