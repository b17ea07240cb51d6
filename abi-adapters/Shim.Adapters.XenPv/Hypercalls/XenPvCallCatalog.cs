using System.Reflection;
using System.Text;
using Shim.Adapters.Contracts.Policy;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Events;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// Xen-PV hypercalls and their sub-operations under the names policies and reports use: Xen's own lower-case
/// names (memory_op, increase_reservation). Also decides which hypercalls carry a command in their first argument.
/// </summary>
public sealed class XenPvCallCatalog : ICallCatalog
{
    // memory_op and grant_table_op keep a continuation index above the command bits.
    private const long CommandMask = (1 << 6) - 1;

    private static readonly Dictionary<string, long> Errors = typeof(XenErrno)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(int))
        .ToDictionary(f => f.Name, f => XenErrno.Result((int)f.GetRawConstantValue()!), StringComparer.OrdinalIgnoreCase);

    private static readonly Dictionary<Hypercall, Dictionary<string, long>> SubOps = new()
    {
        [Hypercall.MemoryOp] = new()
        {
            ["increase_reservation"] = MemoryOpHypercall.IncreaseReservation,
            ["decrease_reservation"] = MemoryOpHypercall.DecreaseReservation,
            ["maximum_ram_page"] = MemoryOpHypercall.MaximumRamPage,
            ["current_reservation"] = MemoryOpHypercall.CurrentReservation,
            ["maximum_reservation"] = MemoryOpHypercall.MaximumReservation,
            ["machphys_mfn_list"] = MemoryOpHypercall.MachphysMfnList,
            ["populate_physmap"] = MemoryOpHypercall.PopulatePhysmap,
            ["add_to_physmap"] = MemoryOpHypercall.AddToPhysmap,
            ["memory_map"] = MemoryOpHypercall.MemoryMap,
            ["machine_memory_map"] = MemoryOpHypercall.MachineMemoryMap,
            ["exchange"] = MemoryOpHypercall.Exchange,
            ["machphys_mapping"] = MemoryOpHypercall.MachphysMapping,
            ["set_memory_map"] = MemoryOpHypercall.SetMemoryMap,
            ["maximum_gpfn"] = MemoryOpHypercall.MaximumGpfn,
        },
        [Hypercall.XenVersion] = new()
        {
            ["version"] = (long)XenVersionHypercall.Version,
            ["extraversion"] = (long)XenVersionHypercall.ExtraVersion,
            ["compile_info"] = (long)XenVersionHypercall.CompileInfo,
            ["capabilities"] = (long)XenVersionHypercall.Capabilities,
            ["changeset"] = (long)XenVersionHypercall.Changeset,
            ["platform_parameters"] = (long)XenVersionHypercall.PlatformParameters,
            ["get_features"] = (long)XenVersionHypercall.GetFeatures,
            ["pagesize"] = (long)XenVersionHypercall.PageSize,
            ["guest_handle"] = (long)XenVersionHypercall.GuestHandle,
            ["commandline"] = (long)XenVersionHypercall.CommandLine,
            ["build_id"] = (long)XenVersionHypercall.BuildId,
        },
        [Hypercall.ConsoleIo] = new()
        {
            ["write"] = (long)ConsoleIoHypercall.Write,
            ["read"] = (long)ConsoleIoHypercall.Read,
        },
        [Hypercall.SchedOp] = new()
        {
            ["yield"] = SchedOpHypercall.Yield,
            ["block"] = SchedOpHypercall.Block,
            ["shutdown"] = SchedOpHypercall.Shutdown,
            ["poll"] = SchedOpHypercall.Poll,
            ["remote_shutdown"] = SchedOpHypercall.RemoteShutdown,
            ["shutdown_code"] = SchedOpHypercall.ShutdownCode,
            ["watchdog"] = SchedOpHypercall.Watchdog,
            ["pin_override"] = SchedOpHypercall.PinOverride,
        },
        [Hypercall.EventChannelOp] = new()
        {
            ["bind_interdomain"] = EventChannelOpHypercall.BindInterdomain,
            ["bind_virq"] = EventChannelOpHypercall.BindVirqCmd,
            ["bind_pirq"] = EventChannelOpHypercall.BindPirq,
            ["close"] = EventChannelOpHypercall.CloseCmd,
            ["send"] = EventChannelOpHypercall.SendCmd,
            ["status"] = EventChannelOpHypercall.StatusCmd,
            ["alloc_unbound"] = EventChannelOpHypercall.AllocUnboundCmd,
            ["bind_ipi"] = EventChannelOpHypercall.BindIpiCmd,
            ["bind_vcpu"] = EventChannelOpHypercall.BindVcpuCmd,
            ["unmask"] = EventChannelOpHypercall.UnmaskCmd,
            ["reset"] = EventChannelOpHypercall.ResetCmd,
            ["init_control"] = EventChannelOpHypercall.InitControl,
            ["expand_array"] = EventChannelOpHypercall.ExpandArray,
            ["set_priority"] = EventChannelOpHypercall.SetPriority,
        },
        [Hypercall.VcpuOp] = new()
        {
            ["initialise"] = VcpuOpHypercall.Initialise,
            ["up"] = VcpuOpHypercall.Up,
            ["down"] = VcpuOpHypercall.Down,
            ["is_up"] = VcpuOpHypercall.IsUp,
            ["get_runstate_info"] = VcpuOpHypercall.GetRunstateInfo,
            ["register_runstate_memory_area"] = VcpuOpHypercall.RegisterRunstateMemoryArea,
            ["set_periodic_timer"] = VcpuOpHypercall.SetPeriodicTimer,
            ["stop_periodic_timer"] = VcpuOpHypercall.StopPeriodicTimer,
            ["set_singleshot_timer"] = VcpuOpHypercall.SetSingleshotTimer,
            ["stop_singleshot_timer"] = VcpuOpHypercall.StopSingleshotTimer,
            ["register_vcpu_info"] = VcpuOpHypercall.RegisterVcpuInfo,
            ["register_vcpu_time_memory_area"] = VcpuOpHypercall.RegisterVcpuTimeMemoryArea,
        },
        [Hypercall.GrantTableOp] = new()
        {
            ["setup_table"] = GrantTableOpHypercall.SetupTable,
            ["query_size"] = GrantTableOpHypercall.QuerySize,
            ["set_version"] = GrantTableOpHypercall.SetVersion,
            ["get_version"] = GrantTableOpHypercall.GetVersion,
        },
        [Hypercall.PhysdevOp] = new()
        {
            ["irq_status_query"] = (long)PhysdevOpHypercall.IrqStatusQuery,
            ["set_iopl"] = (long)PhysdevOpHypercall.SetIopl,
            ["set_iobitmap"] = (long)PhysdevOpHypercall.SetIobitmap,
            ["eoi"] = (long)PhysdevOpHypercall.Eoi,
            ["pirq_eoi_gmfn_v1"] = (long)PhysdevOpHypercall.PirqEoiGmfnV1,
            ["pirq_eoi_gmfn_v2"] = (long)PhysdevOpHypercall.PirqEoiGmfnV2,
        },
        [Hypercall.CallbackOp] = new()
        {
            ["register"] = (long)CallbackOpHypercall.Register,
            ["unregister"] = (long)CallbackOpHypercall.Unregister,
        },
    };

    // Hypercalls whose first argument is a command (Xen's "cmd"/"op"); the rest take pointers or values there.
    private static readonly HashSet<Hypercall> CommandFirst =
    [
        Hypercall.MemoryOp, Hypercall.XenVersion, Hypercall.ConsoleIo, Hypercall.SchedOp, Hypercall.SchedOpCompat,
        Hypercall.EventChannelOp, Hypercall.VcpuOp, Hypercall.GrantTableOp, Hypercall.PhysdevOp, Hypercall.CallbackOp,
        Hypercall.VmAssist, Hypercall.NmiOp, Hypercall.HvmOp, Hypercall.KexecOp, Hypercall.XenpmuOp, Hypercall.ArgoOp,
        Hypercall.HypfsOp,
    ];

    public static XenPvCallCatalog Instance { get; } = new();

    private XenPvCallCatalog()
    {
        Calls = [.. Enum.GetValues<Hypercall>().Select(h => new CallDescriptor(
            SnakeCase(h.ToString()), (int)h, SubOps.TryGetValue(h, out var subOps) ? subOps : new Dictionary<string, long>()))];
    }

    public string Adapter => "xen-pv";

    public IReadOnlyList<CallDescriptor> Calls { get; }

    public long? ErrorResult(string errnoName) => Errors.TryGetValue(errnoName, out var result) ? result : null;

    /// <summary>The policy's view of hypercall <paramref name="number"/> with first argument <paramref name="firstArgument"/>.</summary>
    public static GuestCall ToGuestCall(ulong number, ulong firstArgument)
    {
        var clamped = number > int.MaxValue ? -1 : (long)number;
        if (clamped < 0 || !CommandFirst.Contains((Hypercall)clamped))
            return new GuestCall(clamped);
        var command = (long)(firstArgument & uint.MaxValue);
        return new GuestCall(clamped, clamped is (long)Hypercall.MemoryOp or (long)Hypercall.GrantTableOp ? command & CommandMask : command);
    }

    private static string SnakeCase(string pascal)
    {
        var text = new StringBuilder(pascal.Length + 4);
        for (var i = 0; i < pascal.Length; i++)
        {
            if (char.IsUpper(pascal[i]) && i > 0)
                text.Append('_');
            text.Append(char.ToLowerInvariant(pascal[i]));
        }
        return text.ToString();
    }
}
