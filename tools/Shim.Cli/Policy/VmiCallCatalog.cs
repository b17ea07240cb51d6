using System.Text;
using Shim.Adapters.Contracts.Policy;
using Shim.Adapters.Vmi.Rom;

namespace Shim.Cli.Policy;

/// <summary>
/// VMI ROM calls under policy names (set_pxe, apic_write...). VMI calls return no errno, so deny and rate-limit
/// take a numeric result only.
/// </summary>
public sealed class VmiCallCatalog : ICallCatalog
{
    public static VmiCallCatalog Instance { get; } = new();

    private VmiCallCatalog()
    {
        Calls = [.. Enum.GetValues<VmiCall>().Select(c => new CallDescriptor(SnakeCase(c.ToString()), (int)c))];
    }

    public string Adapter => "vmi";

    public IReadOnlyList<CallDescriptor> Calls { get; }

    public long? ErrorResult(string errnoName) => null;

    private static string SnakeCase(string pascal)
    {
        var text = new StringBuilder(pascal.Length + 4);
        for (var i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0 && !char.IsUpper(pascal[i - 1]))
                text.Append('_');
            text.Append(char.ToLowerInvariant(pascal[i]));
        }
        return text.ToString();
    }
}
