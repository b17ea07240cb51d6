using Microsoft.Extensions.Configuration;
using Shim.Patcher;
using Shim.Patcher.Contracts;
using Shim.Patcher.Reporting;

namespace Shim.Cli.Hosting;

/// <summary>The image patcher `shim run` hands to adapters: the engine with the on-disk result cache.</summary>
public static class ImagePatching
{
    /// <summary>Configuration key for the patch cache folder (default <see cref="PatchCache.DefaultDirectory"/>).</summary>
    public const string CacheDirectoryKey = "Patching:CacheDirectory";

    public static IImagePatcher Create(CliContext context) =>
        new EngineImagePatcher(new PatchEngineOptions(), new PatchCache(context.Configuration[CacheDirectoryKey] ?? PatchCache.DefaultDirectory), context.Logger);
}
