using Serilog;
using Serilog.Events;
using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Traps;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// Routes a hypercall gate exit to its handler: decodes the number and arguments from the width's registers, writes
/// the result to RAX/EAX, counts calls by number and answers -ENOSYS (logged once per number) for unknown ones.
/// multicall and iret are built in because they work on the whole register state.
/// </summary>
public sealed class HypercallDispatcher
{
    /// <summary>Entries executed per multicall exit before the call is restarted as a continuation (Xen preempts too).</summary>
    public const int MulticallEntriesPerExit = 1024;

    /// <summary>Length of the gate instruction (syscall / int $0x82) rewound for a continuation.</summary>
    private const ulong GateInstructionLength = 2;

    private readonly IHypercallHandler?[] _handlers = new IHypercallHandler?[HypercallStatistics.TableSize];
    private readonly bool[] _reportedUnimplemented = new bool[HypercallStatistics.TableSize + 1];
    private readonly IretHypercall _iret;
    private readonly ILogger _logger;

    public HypercallDispatcher(IretHypercall iret, ILogger logger)
    {
        _iret = iret;
        _logger = logger.ForContext<HypercallDispatcher>();
    }

    public HypercallStatistics Statistics { get; } = new();

    public void Register(Hypercall number, IHypercallHandler handler)
    {
        if (number is Hypercall.Multicall or Hypercall.Iret)
            throw new ArgumentException($"{number} is built into the dispatcher", nameof(number));
        _handlers[(int)number] = handler;
    }

    /// <summary>Handles one hypercall gate exit and returns what the run loop should do next.</summary>
    public VcpuRunRequest Dispatch(XenVcpu vcpu, ref GuestRegisterState state)
    {
        var pv64 = vcpu.Width == XenGuestWidth.Pv64;
        var number = pv64 ? state.Regs.Rax : (uint)state.Regs.Rax;
        Statistics.Count(number);
        if (number == (ulong)Hypercall.Iret)
            return _iret.Execute(vcpu, ref state);

        var args = pv64
            ? new HypercallArgs(state.Regs.Rdi, state.Regs.Rsi, state.Regs.Rdx, state.Regs.R10, state.Regs.R8)
            : new HypercallArgs((uint)state.Regs.Rbx, (uint)state.Regs.Rcx, (uint)state.Regs.Rdx, (uint)state.Regs.Rsi, (uint)state.Regs.Rdi);

        if (number == (ulong)Hypercall.Multicall)
            return Multicall(vcpu, ref state, args);

        var result = Invoke(vcpu, number, args);
        state.Regs.Rax = pv64 ? (ulong)result : (uint)result;
        return TakeRequest(vcpu);
    }

    private long Invoke(XenVcpu vcpu, ulong number, in HypercallArgs args)
    {
        var handler = number < (ulong)_handlers.Length ? _handlers[number] : null;
        long result;
        if (handler is not null)
            result = handler.Handle(vcpu, args);
        else
        {
            ReportUnimplemented(number);
            result = XenErrno.Result(XenErrno.ENOSYS);
        }
        // The call trace is for debugging a guest's boot (`--log-level Verbose`); the check keeps it free otherwise.
        if (_logger.IsEnabled(LogEventLevel.Verbose))
            _logger.Verbose("hypercall {Name}({A1:x}, {A2:x}, {A3:x}, {A4:x}, {A5:x}) = {Result}",
                NameOf(number), args.A1, args.A2, args.A3, args.A4, args.A5, result);
        return result;
    }

    private static string NameOf(ulong number) =>
        number < 64 && Enum.IsDefined((Hypercall)number) ? ((Hypercall)number).ToString() : "unknown";

    private VcpuRunRequest Multicall(XenVcpu vcpu, ref GuestRegisterState state, HypercallArgs args)
    {
        var pv64 = vcpu.Width == XenGuestWidth.Pv64;
        if (vcpu.InMulticall)
        {
            state.Regs.Rax = pv64 ? unchecked((ulong)XenErrno.Result(XenErrno.EINVAL)) : unchecked((uint)XenErrno.Result(XenErrno.EINVAL));
            return TakeRequest(vcpu);
        }
        var entrySize = pv64 ? 64UL : 32UL;
        var argOffset = pv64 ? 16UL : 8UL;
        var word = (ulong)vcpu.Width.NativeSize();
        var list = args.A1;
        var count = (uint)args.A2;
        long rc = 0;
        var done = 0U;
        vcpu.InMulticall = true;
        try
        {
            Span<ulong> words = stackalloc ulong[5];
            for (; done < count; done++, list += entrySize)
            {
                if (done == MulticallEntriesPerExit)
                    return Continue(vcpu, ref state, list, count - done);
                if (!vcpu.Memory.TryReadNative(vcpu.Width, list, out var op))
                {
                    rc = XenErrno.Result(XenErrno.EFAULT);
                    break;
                }
                var readable = true;
                for (var i = 0; i < words.Length && readable; i++)
                    readable = vcpu.Memory.TryReadNative(vcpu.Width, list + argOffset + (ulong)i * word, out words[i]);
                if (!readable)
                {
                    rc = XenErrno.Result(XenErrno.EFAULT);
                    break;
                }
                Statistics.Count(op);
                if (op == (ulong)Hypercall.Iret && pv64)
                {
                    // XSA-213: iret ends the batch; the restored context (and RAX from the iret frame) wins.
                    vcpu.InMulticall = false;
                    return _iret.Execute(vcpu, ref state);
                }
                var result = op is (ulong)Hypercall.Multicall or (ulong)Hypercall.Iret
                    ? XenErrno.Result(XenErrno.EINVAL)
                    : Invoke(vcpu, op, new HypercallArgs(words[0], words[1], words[2], words[3], words[4]));
                if (!vcpu.Memory.TryWriteNative(vcpu.Width, list + word, unchecked((ulong)result)))
                {
                    rc = XenErrno.Result(XenErrno.EFAULT);
                    break;
                }
                if (vcpu.PendingRequest.Kind is VcpuRunRequestKind.Shutdown or VcpuRunRequestKind.CrashDomain)
                    break;
            }
        }
        finally
        {
            vcpu.InMulticall = false;
        }
        state.Regs.Rax = pv64 ? unchecked((ulong)rc) : unchecked((uint)rc);
        return TakeRequest(vcpu);
    }

    // Like Xen's hypercall continuation: re-execute the gate with the remaining entries, so a huge batch cannot hold the vCPU.
    private static VcpuRunRequest Continue(XenVcpu vcpu, ref GuestRegisterState state, ulong nextEntry, uint remaining)
    {
        state.Regs.Rip -= GateInstructionLength;
        state.Regs.Rax = (ulong)Hypercall.Multicall;
        if (vcpu.Width == XenGuestWidth.Pv64)
        {
            state.Regs.Rdi = nextEntry;
            state.Regs.Rsi = remaining;
        }
        else
        {
            state.Regs.Rbx = (uint)nextEntry;
            state.Regs.Rcx = remaining;
        }
        var request = TakeRequest(vcpu);
        return request.Kind == VcpuRunRequestKind.Resume ? new VcpuRunRequest(VcpuRunRequestKind.Yield) : request;
    }

    private static VcpuRunRequest TakeRequest(XenVcpu vcpu)
    {
        var request = vcpu.PendingRequest;
        vcpu.PendingRequest = VcpuRunRequest.Resume;
        return request;
    }

    private void ReportUnimplemented(ulong number)
    {
        var slot = number < HypercallStatistics.TableSize ? (int)number : HypercallStatistics.TableSize;
        if (_reportedUnimplemented[slot])
            return;
        _reportedUnimplemented[slot] = true;
        _logger.Warning("Hypercall {Number} ({Name}) is not implemented; answering -ENOSYS (reported once)",
            number, NameOf(number));
    }
}
