using Shim.GuestImages.Tests.TestGuests;

namespace Shim.Integration.Tests.XenPv;

/// <summary>
/// Builds every manifest guest once per test run with guest-images/test-guests/build.sh into a directory beside the
/// test assembly, so it never races the image tests' build into .cache/test-guests. A missing gcc or a failing
/// build fails the tests.
/// </summary>
public static class TestGuestBuild
{
    private static readonly Lazy<string> Output = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Path of the built guest <paramref name="name"/>; builds all guests on first use.</summary>
    public static string GuestPath(string name) => Path.Combine(Output.Value, name);

    private static string Build()
    {
        var output = Path.Combine(AppContext.BaseDirectory, "test-guests");
        TestGuestBuilder.Run("bash", TestGuestManifest.PathOf("build.sh"), output);
        return output;
    }
}
