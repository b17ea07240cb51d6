using Serilog;

namespace Shim.Adapters.XenPv.Patching;

/// <summary>What the VMM does with one exit through the Xen-PV gate port.</summary>
public enum GateVerdict
{
    /// <summary>A site the patcher wrote, reached in guest-kernel mode: a hypercall.</summary>
    Hypercall,

    /// <summary>
    /// Guest-kernel code, but not after a gate the patcher wrote: no proven hypercall sits there, so the call is
    /// refused the way Xen refuses a hypercall it does not accept — -ENOSYS in RAX, execution continues.
    /// </summary>
    RefuseUnpatchedSite,

    /// <summary>
    /// Guest user mode: the gate is a kernel gate. The instruction is handed back to the guest as the I/O
    /// instruction it is, i.e. the #GP(0) Xen takes for a user-mode <c>out</c> (privileged-op emulation, then a
    /// #GP bounced to the guest kernel).
    /// </summary>
    RefuseUserMode,
}

/// <summary>
/// The run-time guard of the patched gate: only RIPs just after a gate the patcher wrote (or proved already there)
/// count as hypercalls, and only from guest-kernel mode. Refusals are counted and logged at most a few times.
/// </summary>
public sealed class XenGateGuard
{
    /// <summary>Refusals logged individually before the guard goes quiet (it keeps counting).</summary>
    public const int LoggedRefusals = 8;

    private readonly HashSet<ulong> _sites;
    private readonly ILogger _logger;
    private long _refusedUnpatched;
    private long _refusedUserMode;

    public XenGateGuard(IEnumerable<ulong> gateSites, ILogger logger)
    {
        _sites = [.. gateSites];
        _logger = logger.ForContext<XenGateGuard>();
    }

    public int SiteCount => _sites.Count;

    public long RefusedUnpatched => Interlocked.Read(ref _refusedUnpatched);

    public long RefusedUserMode => Interlocked.Read(ref _refusedUserMode);

    /// <param name="resumeRip">RIP after the <c>out</c>, as the gate exit reports it.</param>
    public GateVerdict Check(ulong resumeRip, uint call, bool guestKernelMode)
    {
        if (!guestKernelMode)
            return Refuse(ref _refusedUserMode, GateVerdict.RefuseUserMode, resumeRip, call);
        return _sites.Contains(resumeRip)
            ? GateVerdict.Hypercall
            : Refuse(ref _refusedUnpatched, GateVerdict.RefuseUnpatchedSite, resumeRip, call);
    }

    /// <summary>Non-zero refusal counters for the run statistics ("guest calls by kind").</summary>
    public IEnumerable<(string Call, long Count)> Snapshot()
    {
        if (RefusedUnpatched != 0)
            yield return ("gate_refused_unpatched_site", RefusedUnpatched);
        if (RefusedUserMode != 0)
            yield return ("gate_refused_user_mode", RefusedUserMode);
    }

    private GateVerdict Refuse(ref long counter, GateVerdict verdict, ulong resumeRip, uint call)
    {
        if (Interlocked.Increment(ref counter) <= LoggedRefusals)
            _logger.Warning("Gate exit refused ({Verdict}): call {Call} from rip 0x{Rip:x} (first {Logged} refusals of each kind are logged)",
                verdict, call, resumeRip, LoggedRefusals);
        return verdict;
    }
}
