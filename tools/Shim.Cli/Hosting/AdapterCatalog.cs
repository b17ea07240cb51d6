using Shim.Adapters.Contracts;
using Shim.GuestImages.Detection;

namespace Shim.Cli.Hosting;

/// <summary>Explicit registration of every ABI adapter (no assembly scanning) and the choice of one for an image.</summary>
public static class AdapterCatalog
{
    public static IReadOnlyList<IAbiAdapter> All { get; } = [new Shim.Adapters.XenPv.Domain.XenPvAdapter(), new Shim.Adapters.Vmi.VmiAdapter()];

    public static IAbiAdapter Select(GuestDescriptor image, string? requestedName)
    {
        if (requestedName is not null)
        {
            var named = All.FirstOrDefault(a => a.Name.Equals(requestedName, StringComparison.OrdinalIgnoreCase))
                ?? throw new CliError(ExitCodes.UsageError, $"unknown ABI '{requestedName}' (known: {Names()})");
            return named.Abis.Contains(image.Abi)
                ? named
                : throw new CliError(ExitCodes.ImageError, $"--abi {named.Name} cannot run this image: it was detected as {image.Abi} ({string.Join("; ", image.Reasons)})");
        }
        if (!image.IsSupported)
            throw new CliError(ExitCodes.ImageError, $"image refused ({image.Abi}): {string.Join("; ", image.Reasons)}");
        return All.FirstOrDefault(a => a.Abis.Contains(image.Abi))
            ?? throw new CliError(ExitCodes.ImageError, $"no adapter runs {image.Abi} guests yet (known adapters: {Names()}); detected because: {string.Join("; ", image.Reasons)}");
    }

    private static string Names() => All.Count == 0 ? "none" : string.Join(", ", All.Select(a => a.Name));
}
