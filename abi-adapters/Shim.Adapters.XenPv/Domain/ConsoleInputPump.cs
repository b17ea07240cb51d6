using Shim.Adapters.XenPv.Console;

namespace Shim.Adapters.XenPv.Domain;

/// <summary>
/// Reads the user's console input on a thread of its own and hands it to the console ring on the vCPU thread
/// (the ring belongs to that thread); bytes the ring cannot take yet stay queued.
/// </summary>
internal sealed class ConsoleInputPump(Stream input, Action wake) : IDisposable
{
    private const int MaxQueuedBytes = 64 * 1024;

    private readonly Queue<byte> _queued = new();
    private readonly Lock _gate = new();
    private Thread? _reader;

    public void Start()
    {
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "xen-console-input" };
        _reader.Start();
    }

    public void FeedTo(ConsoleRingBackend console)
    {
        byte[] pending;
        lock (_gate)
            pending = [.. _queued];
        if (pending.Length == 0)
            return;
        var taken = console.FeedInput(pending);
        lock (_gate)
        {
            for (var i = 0; i < taken; i++)
                _queued.Dequeue();
        }
    }

    public void Dispose() => input.Dispose();

    private void ReadLoop()
    {
        var buffer = new byte[256];
        try
        {
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                lock (_gate)
                {
                    for (var i = 0; i < read && _queued.Count < MaxQueuedBytes; i++)
                        _queued.Enqueue(buffer[i]);
                }
                wake();
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // The input closed under us: the guest simply gets no more console input.
        }
    }
}
