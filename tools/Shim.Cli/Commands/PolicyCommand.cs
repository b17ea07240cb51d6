using System.CommandLine;
using Serilog.Core;
using Shim.Adapters.Contracts.Policy;
using Shim.Cli.Hosting;
using Shim.Cli.Policy;
using Shim.Cli.Regress;
using Shim.GuestImages.Detection;

namespace Shim.Cli.Commands;

/// <summary>`shim policy validate FILE` and `shim policy explain --image IMAGE [--policy FILE]` (docs/policies.md).</summary>
public sealed class PolicyCommand : ICliCommand
{
    public Command Build(CliContext context)
    {
        var command = new Command("policy", "Check ops policies and show what they decide for an image");
        command.Subcommands.Add(BuildValidate(context));
        command.Subcommands.Add(BuildExplain(context));
        return command;
    }

    private static Command BuildValidate(CliContext context)
    {
        var file = new Argument<string>("FILE") { Description = "Policy file (YAML or JSON)" };
        var command = new Command("validate", "Check a policy file; lists every problem with file, key and reason (exit code 5)") { file };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(file)!;
            try
            {
                var loaded = new PolicyLoader(PolicyCatalogs.Default).Load(new PolicySources { GuestFile = path, UseEnvironment = false });
                var policy = loaded.Policy;
                context.Out.WriteLine($"{path}: valid policy — ABIs {string.Join(", ", policy.EnabledAdapters)}; " +
                    $"{policy.Adapters.Values.Sum(a => a.Calls.Count)} call rules; {policy.CpuidMasks.Count} CPUID masks; " +
                    $"{policy.PatcherRules.Count} patch rule switches");
                return ExitCodes.Success;
            }
            catch (PolicyInvalidException e)
            {
                foreach (var problem in e.Problems)
                    context.Error.WriteLine($"shim: policy: {problem}");
                return ExitCodes.ConfigurationError;
            }
        });
        return command;
    }

    private static Command BuildExplain(CliContext context)
    {
        var image = new Option<string>("--image") { Description = "Guest image whose calls to explain", Required = true };
        var observed = new Option<string?>("--observed") { Description = "A `shim run --stats-json` file of this image: adds the calls it actually made" };
        var abi = new Option<string?>("--abi") { Description = "Adapter whose policy to apply (default: the image's detected ABI)" };
        var policyOptions = new PolicyCommandLine();
        var command = new Command("explain", "Show the effective policy decision for every call an image is known to use") { image, observed, abi };
        policyOptions.AddTo(command);
        command.SetAction(parse =>
        {
            var loaded = PolicyCommandLine.Load(policyOptions.Sources(parse, reloadOnChange: false));
            var imagePath = parse.GetValue(image)!;
            var descriptor = GuestImageOpener.Open(context, imagePath);
            var adapter = parse.GetValue(abi) ?? AdapterNameFor(descriptor);
            var catalog = PolicyCatalogs.Default.Calls.FirstOrDefault(c => c.Adapter.Equals(adapter, StringComparison.OrdinalIgnoreCase))
                ?? throw new CliError(ExitCodes.UsageError, $"unknown ABI '{adapter}' (known: {string.Join(", ", PolicyCatalogs.Default.Calls.Select(c => c.Adapter))})");
            var adapterPolicy = loaded.Policy.For(catalog.Adapter);
            var names = new EnforcingCallPolicy(adapterPolicy, catalog, Logger.None);

            var inventory = new CallInventory();
            inventory.AddStatic(descriptor, names, context.Logger);
            if (parse.GetValue(observed) is { } statsPath)
                inventory.AddObserved(RunStatsDocument.TryRead(statsPath)
                    ?? throw new CliError(ExitCodes.UsageError, $"--observed {statsPath}: not a `shim run --stats-json` file"));
            Write(context.Out, imagePath, catalog, loaded, adapterPolicy, inventory);
            return ExitCodes.Success;
        });
        return command;
    }

    private static void Write(TextWriter output, string imagePath, ICallCatalog catalog, LoadedPolicy loaded, AdapterPolicy policy, CallInventory inventory)
    {
        var enabled = loaded.Policy.EnabledAdapters.Contains(catalog.Adapter, StringComparer.OrdinalIgnoreCase);
        output.WriteLine($"image: {imagePath} (adapter {catalog.Adapter}{(enabled ? "" : " — NOT ENABLED by this policy: the run would be refused")})");
        foreach (var note in inventory.Notes)
            output.WriteLine($"  {note}");
        var rows = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (call, where) in inventory.Seen)
            rows[call] = string.Join("+", where);
        foreach (var rule in policy.Calls)
            rows.TryAdd(rule.Call.Name + (rule.Key.Contains('.') ? rule.Key[rule.Key.IndexOf('.')..] : ""), "policy only");

        output.WriteLine($"{"CALL",-40} {"SEEN IN",-12} {"DECISION",-36} RULE (LAYER)");
        foreach (var (call, seen) in rows)
        {
            var (descriptor, subOp) = Parse(catalog, call);
            var (rule, key) = descriptor is null ? (policy.Default, "default") : policy.RuleFor(descriptor.Number, subOp);
            var layer = key == "default" ? LayerOf(loaded, $"adapters:{catalog.Adapter}:default") : LayerOf(loaded, $"adapters:{catalog.Adapter}:calls:{key}");
            output.WriteLine($"{call,-40} {seen,-12} {rule,-36} {key} ({layer})");
        }
        output.WriteLine($"{"(every other call)",-40} {"",-12} {policy.Default,-36} default ({LayerOf(loaded, $"adapters:{catalog.Adapter}:default")})");
        var limits = loaded.Policy.Limits;
        output.WriteLine($"limits: memory {(limits.MaxMemoryBytes is { } m ? $"{m >> 20} MiB" : "unlimited")}, vCPUs {limits.MaxVcpus?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unlimited"}; " +
            $"CPUID masks: {loaded.Policy.CpuidMasks.Count}; patch rules off: {string.Join(", ", loaded.Policy.PatcherRules.Where(r => !r.Value).Select(r => r.Key).DefaultIfEmpty("none"))}");
    }

    private static (Shim.Adapters.Contracts.Policy.CallDescriptor? Call, long? SubOp) Parse(ICallCatalog catalog, string name)
    {
        var dot = name.IndexOf('.');
        var call = catalog.Calls.FirstOrDefault(c => c.Name == (dot < 0 ? name : name[..dot]));
        if (call is null || dot < 0)
            return (call, null);
        var sub = name[(dot + 1)..];
        return (call, call.SubOps.TryGetValue(sub, out var number) ? number : long.TryParse(sub, out var n) ? n : null);
    }

    private static string LayerOf(LoadedPolicy loaded, string key) => loaded.SourceOf(key);

    private static string AdapterNameFor(GuestDescriptor image) => image.Abi switch
    {
        GuestAbi.XenPv64 or GuestAbi.XenPv32Pae => "xen-pv",
        GuestAbi.Vmi => "vmi",
        _ => throw new CliError(ExitCodes.ImageError, $"no adapter's policy applies to a {image.Abi} image ({string.Join("; ", image.Reasons)})"),
    };
}
