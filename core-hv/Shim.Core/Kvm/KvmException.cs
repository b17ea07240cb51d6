namespace Shim.Core.Kvm;

/// <summary>A KVM or libc call failed. <see cref="ErrnoName"/> names the cause (EINVAL, ENOMEM, ...).</summary>
public sealed class KvmException(string operation, int errno)
    : Exception($"{operation} failed: {Errno.Name(errno)}")
{
    public string Operation { get; } = operation;
    public int ErrorNumber { get; } = errno;
    public string ErrnoName => Errno.Name(ErrorNumber);
}
