using Xunit;
using Serilog;
using Shim.Core.Kvm;

namespace Shim.Integration.Tests.Kvm;

/// <summary>
/// Opens /dev/kvm for a test. Skips only when the device does not exist at all; a device that exists but
/// cannot be opened or used makes the test FAIL, because that is a broken host, not an absent feature.
/// </summary>
internal static class KvmHost
{
    public static readonly ILogger Logger = new LoggerConfiguration().CreateLogger();

    public static KvmSystem Open()
    {
        if (!File.Exists(KvmSystem.DefaultDevicePath))
            Assert.Skip("/dev/kvm is absent on this host");
        return KvmSystem.Open(Logger);
    }
}
