using Shim.Cli.Regress;
using Xunit;

namespace Shim.Cli.Tests.Regress;

/// <summary>
/// Catalog images fetched from Debian's archive by the real `apt-get download` and `dpkg-deb -x`: entries running
/// at once that need the same package must all get the whole file (a `shim regress --jobs 2` run once booted a
/// kernel that another entry was still unpacking).
/// </summary>
public sealed class ImageFetcherTests : IDisposable
{
    private const string Package = "busybox-static";
    private const string PackageFile = "/bin/busybox";
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Entries_that_need_the_same_package_at_once_all_get_the_complete_file_and_no_staging_is_left()
    {
        var cache = Path.Combine(_folder.Path, "cache");
        var fetcher = new ImageFetcher(cache);
        var source = new ImageSource(null, Package, PackageFile);

        // The first caller unpacks; the others look while it does, then wait for it.
        var resolving = Enumerable.Range(0, 3).Select(_ => Task.Run(() => fetcher.ResolveAsync(source, TestContext.Current.CancellationToken))).ToArray();
        var paths = await Task.WhenAll(resolving);
        var sizes = paths.Select(p => new FileInfo(p).Length).ToArray();
        var later = new ImageFetcher(cache);
        var again = await later.ResolveAsync(source, TestContext.Current.CancellationToken);

        Assert.Single(paths.Distinct());
        Assert.Equal(again, paths[0]);
        Assert.All(sizes, size => Assert.Equal(new FileInfo(again).Length, size));
        Assert.True(sizes[0] > 100_000, $"busybox is {sizes[0]} bytes");
        Assert.Equal("\u007fELF", File.ReadAllText(again)[..4]);
        Assert.Equal([Path.Combine(cache, Package)], Directory.GetDirectories(cache));
    }

    [Fact]
    public async Task A_package_the_archive_does_not_have_fails_with_its_name_and_leaves_nothing_behind()
    {
        var cache = Path.Combine(_folder.Path, "cache");
        var source = new ImageSource(null, "shim-no-such-package-exists", "/bin/none");

        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => new ImageFetcher(cache).ResolveAsync(source, TestContext.Current.CancellationToken));

        Assert.Contains("shim-no-such-package-exists", error.Message);
        Assert.Empty(Directory.Exists(cache) ? Directory.GetFileSystemEntries(cache) : []);
    }
}
