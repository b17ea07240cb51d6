using System.Runtime.InteropServices;

namespace Shim.Core.Kvm;

/// <summary>An owned file descriptor with errno-checked ioctls.</summary>
internal sealed class FileDescriptor(int fd, string name) : IDisposable
{
    private int _fd = fd;

    public int Value => _fd >= 0 ? _fd : throw new ObjectDisposedException(name);

    public static FileDescriptor Open(string path)
    {
        var fd = LibC.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        if (fd < 0)
            throw new KvmException($"open {path}", Marshal.GetLastPInvokeError());
        return new FileDescriptor(fd, path);
    }

    /// <summary>ioctl that must succeed; returns the non-negative result.</summary>
    public int Ioctl(nuint request, nint argument, string operation)
    {
        var result = LibC.Ioctl(Value, request, argument);
        if (result < 0)
            throw new KvmException(operation, Marshal.GetLastPInvokeError());
        return result;
    }

    /// <summary>ioctl whose failure is an expected answer; returns -errno on failure.</summary>
    public int TryIoctl(nuint request, nint argument)
    {
        var result = LibC.Ioctl(Value, request, argument);
        return result < 0 ? -Marshal.GetLastPInvokeError() : result;
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            LibC.Close(fd);
    }
}
