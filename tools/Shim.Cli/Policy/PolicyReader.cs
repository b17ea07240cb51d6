using System.Globalization;
using Microsoft.Extensions.Configuration;
using Shim.Adapters.Contracts.Policy;

namespace Shim.Cli.Policy;

/// <summary>
/// Turns layered configuration into a <see cref="ShimPolicy"/>, checking every key against the adapters' call
/// catalogs and the known patch rules. Unknown keys are errors (a typo must not silently allow a call).
/// </summary>
public sealed class PolicyReader(IReadOnlyList<ICallCatalog> catalogs, IReadOnlyCollection<string> patchRuleIds, Func<string, string> sourceOf)
{
    private static readonly string[] TopLevelKeys = ["abis", "adapters", "cpuid", "limits", "console", "log", "patcher"];
    private static readonly string[] RuleKeys = ["action", "error", "result", "perSecond"];
    private static readonly string[] Registers = ["eax", "ebx", "ecx", "edx"];

    private readonly List<PolicyProblem> _problems = [];

    public ShimPolicy Read(IConfiguration configuration)
    {
        _problems.Clear();
        foreach (var section in configuration.GetChildren())
        {
            if (!TopLevelKeys.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
                Problem(section, $"unknown key '{section.Key}' (expected one of: {string.Join(", ", TopLevelKeys)})");
        }

        var policy = new ShimPolicy(
            ReadAbis(configuration.GetSection("abis")),
            ReadAdapters(configuration.GetSection("adapters")),
            ReadCpuid(configuration.GetSection("cpuid")),
            ReadLimits(configuration.GetSection("limits")),
            ReadSingle(configuration.GetSection("console"), "destination"),
            ReadSingle(configuration.GetSection("log"), "decisions"),
            ReadPatcher(configuration.GetSection("patcher")));
        return _problems.Count == 0 ? policy : throw new PolicyInvalidException([.. _problems]);
    }

    private IReadOnlyList<string> ReadAbis(IConfigurationSection section)
    {
        var known = catalogs.Select(c => c.Adapter).ToList();
        if (!section.Exists())
            return known;
        var names = section.Value is { } scalar
            ? scalar.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => (section, n)).ToList()
            : section.GetChildren().Select(c => (c, c.Value ?? "")).ToList();
        var enabled = new List<string>();
        foreach (var (where, name) in names)
        {
            var match = known.FirstOrDefault(k => k.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (match is null)
                Problem(where, $"unknown ABI '{name}' (known: {string.Join(", ", known)})");
            else if (!enabled.Contains(match))
                enabled.Add(match);
        }
        return enabled;
    }

    private Dictionary<string, AdapterPolicy> ReadAdapters(IConfigurationSection section)
    {
        var adapters = new Dictionary<string, AdapterPolicy>(StringComparer.OrdinalIgnoreCase);
        foreach (var adapterSection in section.GetChildren())
        {
            var catalog = catalogs.FirstOrDefault(c => c.Adapter.Equals(adapterSection.Key, StringComparison.OrdinalIgnoreCase));
            if (catalog is null)
            {
                Problem(adapterSection, $"unknown adapter (known: {string.Join(", ", catalogs.Select(c => c.Adapter))})");
                continue;
            }
            Expect(adapterSection, ["default", "calls"]);
            var defaultSection = adapterSection.GetSection("default");
            var defaultRule = defaultSection.Exists() ? ReadRule(defaultSection, catalog) : new CallRule(CallAction.Allow);
            if (defaultRule?.Action is CallAction.Emulate)
                Problem(defaultSection, "the default cannot be emulate: one fixed answer for every call would break any guest");
            var rules = new List<NamedCallRule>();
            foreach (var callSection in adapterSection.GetSection("calls").GetChildren())
            {
                if (ResolveCall(callSection, catalog) is not var (call, subOp))
                    continue;
                if (ReadRule(callSection, catalog) is { } rule)
                    rules.Add(new NamedCallRule(callSection.Key, call, subOp, rule));
            }
            adapters[catalog.Adapter] = new AdapterPolicy(catalog.Adapter, defaultRule ?? new CallRule(CallAction.Allow), rules);
        }
        return adapters;
    }

    private (CallDescriptor Call, long? SubOp)? ResolveCall(IConfigurationSection section, ICallCatalog catalog)
    {
        var dot = section.Key.IndexOf('.');
        var callName = dot < 0 ? section.Key : section.Key[..dot];
        var call = catalog.Calls.FirstOrDefault(c => c.Name.Equals(callName, StringComparison.OrdinalIgnoreCase));
        if (call is null)
        {
            Problem(section, $"{catalog.Adapter} has no call '{callName}'" + Suggest(callName, catalog.Calls.Select(c => c.Name)));
            return null;
        }
        if (dot < 0)
            return (call, null);
        var subName = section.Key[(dot + 1)..];
        if (call.SubOps.FirstOrDefault(s => s.Key.Equals(subName, StringComparison.OrdinalIgnoreCase)) is { Key: not null } named)
            return (call, named.Value);
        if (TryParseInteger(subName, out var number) && number >= 0)
            return (call, number);
        Problem(section, $"{call.Name} has no sub-operation '{subName}'" +
            (call.SubOps.Count == 0 ? " (name it by number)" : $" (known: {string.Join(", ", call.SubOps.Keys)}, or a number)"));
        return null;
    }

    private CallRule? ReadRule(IConfigurationSection section, ICallCatalog catalog)
    {
        var actionSection = section.Value is not null ? section : section.GetSection("action");
        if (section.Value is null)
            Expect(section, RuleKeys);
        if (actionSection.Value is not { } actionText)
        {
            Problem(section, "missing action (allow, deny, log, rate-limit, emulate)");
            return null;
        }
        CallAction action;
        switch (actionText.Trim().ToLowerInvariant())
        {
            case "allow": action = CallAction.Allow; break;
            case "deny": action = CallAction.Deny; break;
            case "log": action = CallAction.Log; break;
            case "rate-limit" or "ratelimit": action = CallAction.RateLimit; break;
            case "emulate": action = CallAction.Emulate; break;
            default:
                Problem(actionSection, $"unknown action '{actionText}' (allow, deny, log, rate-limit, emulate)");
                return null;
        }

        var errorSection = section.GetSection("error");
        var errorName = errorSection.Value ?? (action == CallAction.RateLimit ? "EAGAIN" : "EPERM");
        long errorResult = 0;
        if (action is CallAction.Deny or CallAction.RateLimit)
        {
            if (TryParseInteger(errorName, out var numeric))
                errorResult = numeric > 0 ? -numeric : numeric;
            else if (catalog.ErrorResult(errorName) is { } known)
                errorResult = known;
            else
                Problem(errorSection.Exists() ? errorSection : section, $"unknown error '{errorName}' for {catalog.Adapter} (use a name like EPERM or a number)");
        }
        else if (errorSection.Value is not null)
        {
            Problem(errorSection, $"'error' only applies to deny and rate-limit, not {actionText}");
        }

        var resultSection = section.GetSection("result");
        long emulated = 0;
        if (action == CallAction.Emulate)
        {
            if (resultSection.Value is null)
                Problem(section, "emulate needs 'result', the value the call returns");
            else if (!TryParseInteger(resultSection.Value, out emulated))
                Problem(resultSection, $"'{resultSection.Value}' is not an integer");
        }
        else if (resultSection.Value is not null)
        {
            Problem(resultSection, $"'result' only applies to emulate, not {actionText}");
        }

        var rateSection = section.GetSection("perSecond");
        double perSecond = 0;
        if (action == CallAction.RateLimit)
        {
            if (rateSection.Value is null)
                Problem(section, "rate-limit needs 'perSecond', the calls allowed per second");
            else if (!double.TryParse(rateSection.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out perSecond) || !(perSecond > 0) || double.IsInfinity(perSecond))
                Problem(rateSection, $"'{rateSection.Value}' is not a positive number of calls per second");
        }
        else if (rateSection.Value is not null)
        {
            Problem(rateSection, $"'perSecond' only applies to rate-limit, not {actionText}");
        }
        return new CallRule(action, errorResult, errorName.ToUpperInvariant(), emulated, perSecond);
    }

    private List<CpuidMask> ReadCpuid(IConfigurationSection section)
    {
        var masks = new List<CpuidMask>();
        foreach (var leafSection in section.GetChildren())
        {
            var parts = leafSection.Key.Split('.');
            if (parts.Length > 2 || !TryParseUInt(parts[0], out var leaf) || !(parts.Length == 1 ? TryParseUInt("0", out var subleaf) : TryParseUInt(parts[1], out subleaf)))
            {
                Problem(leafSection, "CPUID keys are LEAF or LEAF.SUBLEAF (decimal or 0x-hex), e.g. 0x1 or 0x7.0");
                continue;
            }
            Expect(leafSection, ["clear", "set"]);
            var clear = ReadRegisters(leafSection.GetSection("clear"));
            var set = ReadRegisters(leafSection.GetSection("set"));
            masks.Add(new CpuidMask(leaf, subleaf, clear[0], clear[1], clear[2], clear[3], set[0], set[1], set[2], set[3]));
        }
        return masks;
    }

    private uint[] ReadRegisters(IConfigurationSection section)
    {
        var values = new uint[4];
        Expect(section, Registers);
        for (var i = 0; i < Registers.Length; i++)
        {
            var register = section.GetSection(Registers[i]);
            if (register.Value is null)
                continue;
            if (!TryParseUInt(register.Value, out values[i]))
                Problem(register, $"'{register.Value}' is not a 32-bit mask");
        }
        return values;
    }

    private ResourceLimits ReadLimits(IConfigurationSection section)
    {
        Expect(section, ["maxMemory", "maxVcpus"]);
        ulong? memory = null;
        int? vcpus = null;
        var memorySection = section.GetSection("maxMemory");
        if (memorySection.Value is { } memoryText)
        {
            if (PolicySizes.TryParse(memoryText, out var bytes) && bytes > 0)
                memory = bytes;
            else
                Problem(memorySection, $"'{memoryText}' is not a size (e.g. 512M, 2G)");
        }
        var vcpuSection = section.GetSection("maxVcpus");
        if (vcpuSection.Value is { } vcpuText)
        {
            if (int.TryParse(vcpuText, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is >= 1 and <= 64)
                vcpus = count;
            else
                Problem(vcpuSection, $"'{vcpuText}' is not a vCPU count between 1 and 64");
        }
        return new ResourceLimits(memory, vcpus);
    }

    private string? ReadSingle(IConfigurationSection section, string key)
    {
        Expect(section, [key]);
        var value = section.GetSection(key);
        if (value.Value is "")
            Problem(value, "must not be empty");
        return string.IsNullOrEmpty(value.Value) ? null : value.Value;
    }

    private Dictionary<string, bool> ReadPatcher(IConfigurationSection section)
    {
        Expect(section, ["rules"]);
        var rules = new Dictionary<string, bool>(StringComparer.OrdinalIgnoreCase);
        foreach (var rule in section.GetSection("rules").GetChildren())
        {
            if (!patchRuleIds.Contains(rule.Key, StringComparer.OrdinalIgnoreCase))
                Problem(rule, $"unknown patch rule (known: {string.Join(", ", patchRuleIds)})");
            else if (!bool.TryParse(rule.Value, out var enabled))
                Problem(rule, $"'{rule.Value}' is not true or false");
            else
                rules[rule.Key] = enabled;
        }
        return rules;
    }

    private void Expect(IConfigurationSection section, IReadOnlyCollection<string> allowed)
    {
        foreach (var child in section.GetChildren())
        {
            if (!allowed.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
                Problem(child, $"unknown key '{child.Key}' (expected one of: {string.Join(", ", allowed)})");
        }
    }

    private void Problem(IConfigurationSection section, string reason) => _problems.Add(new PolicyProblem(sourceOf(section.Path), section.Path, reason));

    private static string Suggest(string name, IEnumerable<string> known)
    {
        var close = known.Where(k => k.Contains(name, StringComparison.OrdinalIgnoreCase) || name.Contains(k, StringComparison.OrdinalIgnoreCase)).Take(3).ToList();
        return close.Count > 0 ? $" (did you mean {string.Join(" or ", close)}?)" : "";
    }

    internal static bool TryParseInteger(string text, out long value)
    {
        var trimmed = text.Trim();
        var negative = trimmed.StartsWith('-');
        var digits = negative ? trimmed[1..] : trimmed;
        bool ok;
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            ok = ulong.TryParse(digits[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex);
            value = unchecked((long)hex);
        }
        else
        {
            ok = long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
        }
        if (negative)
            value = -value;
        return ok;
    }

    private static bool TryParseUInt(string text, out uint value)
    {
        value = 0;
        if (!TryParseInteger(text, out var wide) || wide is < 0 or > uint.MaxValue)
            return false;
        value = (uint)wide;
        return true;
    }
}
