using Shim.Adapters.XenPv.Abi;
using Shim.Adapters.XenPv.Console;
using Shim.Adapters.XenPv.Vcpu;

namespace Shim.Adapters.XenPv.Hypercalls;

/// <summary>
/// console_io(cmd, count, buf). CONSOLEIO_write copies the (unsigned) count in bounded chunks to the sink — Shim acts as
/// the console domain, so writes are accepted; CONSOLEIO_read has no hypervisor console input and returns 0 bytes.
/// </summary>
public sealed class ConsoleIoHypercall(IConsoleSink sink) : XenPvHypercallHandler
{
    public const ulong Write = 0;
    public const ulong Read = 1;
    private const int ChunkBytes = 128;

    protected override long Handle(XenVcpu vcpu, in HypercallArgs args)
    {
        var count = (uint)args.A2;
        switch (args.A1)
        {
            case Write:
            {
                Span<byte> chunk = stackalloc byte[ChunkBytes];
                for (ulong done = 0; done < count;)
                {
                    var length = (int)Math.Min(ChunkBytes, count - done);
                    var part = chunk[..length];
                    if (!vcpu.Memory.TryRead(args.A3 + done, part))
                        return Errno(XenErrno.EFAULT);
                    sink.Write(part);
                    done += (ulong)length;
                }
                return 0;
            }
            case Read:
                return count > int.MaxValue ? Errno(XenErrno.E2BIG) : 0;
            default:
                return Errno(XenErrno.ENOSYS);
        }
    }
}
