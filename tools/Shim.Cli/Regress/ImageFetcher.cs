using System.Diagnostics;

namespace Shim.Cli.Regress;

/// <summary>
/// Finds a catalog image: its path if the file exists, else the named file of a Debian package, downloaded with
/// `apt-get download` and unpacked with `dpkg-deb -x` into a cache folder once, then reused. A package is unpacked
/// into a staging folder that is renamed into place when complete, so a run that finds the package's folder never
/// reads a file another entry (or another process) is still unpacking.
/// </summary>
public sealed class ImageFetcher(string cacheDirectory)
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    /// <summary>The file to run, or an exception whose message says what is missing and how to get it.</summary>
    public async Task<string> ResolveAsync(ImageSource source, CancellationToken cancellation)
    {
        if (source.Path is { } path && File.Exists(path))
            return path;
        if (source.Package is not { } package || source.PackageFile is not { } file)
            throw new FileNotFoundException($"image {source.Path} does not exist (build or fetch it: guest-images/test-guests/build.sh, tools/scripts/fetch-guests.sh)");
        var root = Path.Combine(Path.GetFullPath(cacheDirectory), package);
        var target = Path.Combine(root, file.TrimStart('/'));
        if (File.Exists(target))
            return target;
        await _oneAtATime.WaitAsync(cancellation);
        try
        {
            if (!File.Exists(target))
                await FetchAsync(package, root, cancellation);
        }
        finally
        {
            _oneAtATime.Release();
        }
        return File.Exists(target) ? target : throw new FileNotFoundException($"package {package} has no file {file}");
    }

    private static async Task FetchAsync(string package, string root, CancellationToken cancellation)
    {
        var staging = $"{root}.partial-{Guid.NewGuid():N}";
        try
        {
            var download = Path.Combine(staging, ".download");
            Directory.CreateDirectory(download);
            await RunAsync("apt-get", ["download", package], download, cancellation);
            var deb = Directory.EnumerateFiles(download, "*.deb").FirstOrDefault()
                ?? throw new FileNotFoundException($"apt-get download {package} produced no .deb");
            await RunAsync("dpkg-deb", ["-x", deb, staging], download, cancellation);
            Directory.Delete(download, recursive: true);
            try
            {
                Directory.Move(staging, root);
            }
            catch (IOException) when (Directory.Exists(root))
            {
                // Another process unpacked the same package first; its folder is complete.
            }
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    private static async Task RunAsync(string tool, string[] arguments, string directory, CancellationToken cancellation)
    {
        var info = new ProcessStartInfo(tool) { WorkingDirectory = directory, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new FileNotFoundException($"cannot start {tool}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new FileNotFoundException($"cannot start {tool} ({e.Message}); fetching packages needs a Debian-like host");
        }
        using (process)
        {
            var error = process.StandardError.ReadToEndAsync(cancellation);
            await process.StandardOutput.ReadToEndAsync(cancellation);
            await process.WaitForExitAsync(cancellation);
            if (process.ExitCode != 0)
                throw new FileNotFoundException($"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {(await error).Trim()}");
        }
    }
}
