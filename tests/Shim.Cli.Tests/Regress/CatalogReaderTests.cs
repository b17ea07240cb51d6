using Shim.Cli.Regress;
using Xunit;

namespace Shim.Cli.Tests.Regress;

public sealed class CatalogReaderTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Entries_take_defaults_and_resolve_paths_against_the_catalog_folder()
    {
        var file = _folder.Write("c.yaml", """
            defaults:
              memory: 64M
              timeout: 5
              tags: [base]
            entries:
              - name: one
                image: images/one.elf
                expect: ["a", "b"]
              - name: two
                image: { path: two.elf, package: grub-xen-host, file: /usr/lib/grub-xen/grub-x86_64-xen.bin }
                memory: 128M
                vcpus: 2
                shutdown: running
                cmdline: "console=hvc0"
                policy: policies/strict.yaml
                input:
                  - after: "grub>"
                    send: "echo hello\n"
                known-failing: not yet
            """);

        var entries = CatalogReader.LoadFile(file);

        var (one, two) = (entries[0], entries[1]);
        Assert.Equal(Path.Combine(_folder.Path, "images", "one.elf"), one.Image.Path);
        Assert.Equal("64M", one.Memory);
        Assert.Equal(TimeSpan.FromSeconds(5), one.Timeout);
        Assert.Equal(["a", "b"], one.Expect);
        Assert.Equal(["base"], one.Tags);
        Assert.Equal(ExpectedEnd.PowerOff, one.Shutdown);
        Assert.Null(one.KnownFailing);
        Assert.Equal(new ImageSource(Path.Combine(_folder.Path, "two.elf"), "grub-xen-host", "/usr/lib/grub-xen/grub-x86_64-xen.bin"), two.Image);
        Assert.Equal("128M", two.Memory);
        Assert.Null(one.Vcpus);
        Assert.Equal("2", two.Vcpus);
        Assert.Equal(ExpectedEnd.Running, two.Shutdown);
        Assert.Equal(Path.Combine(_folder.Path, "policies", "strict.yaml"), two.Policy);
        Assert.Equal([new ConsoleInputStep("grub>", "echo hello\n")], two.Input);
        Assert.Equal("not yet", two.KnownFailing);
    }

    [Theory]
    [InlineData("entries:\n  - name: x\n    image: a\n    colour: red\n", ":4: unknown key 'colour'")]
    [InlineData("entries:\n  - image: a\n", "entry without 'name'")]
    [InlineData("entries:\n  - name: x\n", "image: missing")]
    [InlineData("entries:\n  - name: x/../y\n    image: a\n", "may only use letters")]
    [InlineData("entries:\n  - name: x\n    image: a\n    timeout: forever\n", "not a number of seconds")]
    [InlineData("entries:\n  - name: x\n    image: a\n    shutdown: explode\n", "not poweroff, crash, reboot, timeout or running")]
    [InlineData("entries:\n  - name: x\n    image: { package: p }\n", "'package' and 'file' go together")]
    [InlineData("entries: [\n", "YAML syntax error")]
    [InlineData("defaults: {}\n", "'entries' must be a list")]
    public void Bad_catalogs_are_rejected_with_file_line_and_reason(string yaml, string reason)
    {
        var file = _folder.Write("bad.yaml", yaml);

        var error = Assert.Throws<CatalogException>(() => CatalogReader.LoadFile(file));

        Assert.StartsWith(file, error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Duplicate_names_across_files_of_a_folder_are_rejected()
    {
        _folder.Write("a.yaml", "entries:\n  - name: same\n    image: a\n");
        _folder.Write("b.yaml", "entries:\n  - name: same\n    image: b\n");

        Assert.Contains("'same' is used twice", Assert.Throws<CatalogException>(() => CatalogReader.Load(_folder.Path)).Message);
    }

    [Fact]
    public void The_shipped_catalog_loads_and_covers_test_guests_grub_and_debian()
    {
        var entries = CatalogReader.Load(Path.Combine(Repository.Root, "guest-images", "catalog"));

        var manifest = File.ReadLines(Path.Combine(Repository.Root, "guest-images", "test-guests", "manifest.tsv"))
            .Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => "tg-" + l.Split('\t')[0]).ToList();
        Assert.All(manifest, name => Assert.Contains(entries, e => e.Name == name));
        Assert.Contains(entries, e => e.Name == "grub-x86_64" && e.Expect.Contains("grub>") && e.Input.Count == 2 && e.Shutdown == ExpectedEnd.PowerOff);
        Assert.Contains(entries, e => e.Name == "grub-i386");
        // Both kernel flavours, each to its root-fs panic and to busybox userspace with the test initramfs; the cloud
        // kernel to userspace with 2 vCPUs as well.
        Assert.Equal(5, entries.Count(e => e.Name.StartsWith("debian-", StringComparison.Ordinal) && e.Image.Package is not null));
        Assert.Equal(3, entries.Count(e => e.Name.StartsWith("debian-", StringComparison.Ordinal) && e.Initrd is not null));
        Assert.Contains(entries, e => e.Name == "debian-6.1-cloud-amd64-busybox-2vcpus" && e.Vcpus == "2" && e.Expect.Contains("vcpus=2"));
        Assert.All(entries, e => Assert.NotEmpty(e.Expect));
    }
}
