using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Shim.Core.Dispatch;
using Shim.Core.Exits;
using Shim.Core.Run;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// One host thread per running vCPU, each with its own run loop. vCPU 0 starts with the run; others start when the
/// guest brings them up. The first stop that is not a vCPU going offline ends the run: every other vCPU is
/// cancelled (kicked out of KVM_RUN or its halt sleep) and every thread is joined before the result is returned.
/// </summary>
internal sealed class VcpuThreads(int vcpuCount, Func<int, VcpuRunner> createRunner, Func<int, bool> wentOffline)
{
    /// <summary>Runners stop themselves at the deadline; this only bounds the wait for one that would not.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly List<Thread> _threads = [];
    private readonly List<VcpuRunner> _runners = [];
    private readonly bool[] _running = new bool[vcpuCount];
    private readonly ManualResetEventSlim _ended = new();
    private readonly Stopwatch _clock = new();
    private CancellationTokenSource? _stopAll;
    private TimeSpan _timeout;
    private RunStop? _first;
    private ExceptionDispatchInfo? _failure;
    private bool _stopping;

    public RunStop Run(TimeSpan timeout, CancellationToken cancellation)
    {
        using var stopAll = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        lock (_gate)
        {
            _stopAll = stopAll;
            _timeout = timeout;
            _clock.Start();
        }
        Start(0);
        var bounded = timeout < TimeSpan.FromDays(1) && _ended.Wait(timeout + Grace);
        if (!bounded && timeout < TimeSpan.FromDays(1))
            RecordStop(new RunStop(StopReason.Timeout, $"guest did not finish within {timeout.TotalSeconds:0.###} s (a vCPU did not stop on time)"));
        else if (!bounded)
            _ended.Wait();
        List<Thread> threads;
        lock (_gate)
        {
            _stopping = true;
            threads = [.. _threads];
        }
        stopAll.Cancel();
        foreach (var thread in threads)
            thread.Join();
        _ended.Dispose();
        _failure?.Throw();
        return _first!;
    }

    /// <summary>Runs <paramref name="vcpuId"/> on a new thread unless it is running already or the run is ending.</summary>
    public void Start(int vcpuId)
    {
        lock (_gate)
        {
            if (_stopping || _running[vcpuId])
                return;
            _running[vcpuId] = true;
            var runner = createRunner(vcpuId);
            _runners.Add(runner);
            var thread = new Thread(() => RunVcpu(vcpuId, runner)) { IsBackground = true, Name = $"shim-vcpu{vcpuId}" };
            _threads.Add(thread);
            thread.Start();
        }
    }

    /// <summary>Exits by kind over every runner (a vCPU that went offline and came back has several).</summary>
    public IEnumerable<(ExitKind Kind, long Count)> Counters()
    {
        lock (_gate)
        {
            return [.. _runners.SelectMany(r => r.Counters.NonZero()).GroupBy(e => e.Kind).Select(g => (g.Key, g.Sum(e => e.Count))).OrderBy(e => e.Item1)];
        }
    }

    private void RunVcpu(int vcpuId, VcpuRunner runner)
    {
        RunStop stop;
        try
        {
            TimeSpan left;
            lock (_gate)
                left = vcpuId == 0 ? _timeout : _timeout - _clock.Elapsed;
            stop = runner.Run(new VcpuRunOptions(left > TimeSpan.Zero ? left : TimeSpan.Zero), _stopAll!.Token);
        }
        catch (Exception e)
        {
            lock (_gate)
                _failure ??= ExceptionDispatchInfo.Capture(e);
            stop = new RunStop(StopReason.Unhandled, $"vCPU {vcpuId} failed: {e.Message}");
        }
        lock (_gate)
        {
            _running[vcpuId] = false;
            if (stop.Reason == StopReason.GuestExited && wentOffline(vcpuId))
                return;
        }
        RecordStop(stop);
    }

    private void RecordStop(RunStop stop)
    {
        lock (_gate)
            _first ??= stop;
        _ended.Set();
    }
}
