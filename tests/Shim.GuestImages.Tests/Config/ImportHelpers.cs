using Xunit;
using Serilog;
using Shim.GuestImages.Config;
using Shim.GuestImages.Spec;
using Shim.GuestImages.Tests.TestGuests;

namespace Shim.GuestImages.Tests.Config;

internal static class ImportHelpers
{
    public static GuestConfigImporter Importer(GuestConfigImportOptions? options = null) =>
        new(options ?? new GuestConfigImportOptions(), new LoggerConfiguration().CreateLogger());

    public static GuestSpec Xl(string text, GuestConfigFormat? format = null) => Importer().Import(text, "test.cfg", format);

    public static GuestSpec Xml(string text) => Importer().Import(text, "test.xml", GuestConfigFormat.Libvirt);

    public static GuestSpec Fixture(string name) =>
        Importer().ImportFile(RepositoryLayout.PathOf("tests", "Shim.GuestImages.Tests", "Config", "Fixtures", name));

    public static GuestConfigException Fails(string text, GuestConfigFormat? format = null) =>
        Assert.Throws<GuestConfigException>(() => Importer().Import(text, "bad.cfg", format));

    public static ImportDiagnostic Diagnostic(GuestSpec spec, string setting) =>
        Assert.Single(spec.Diagnostics, d => d.Setting == setting);
}
