namespace Shim.GuestImages.Initramfs;

/// <summary>Bad input to the initramfs builder (not a static x86-64 busybox, an init script without "#!", ...).</summary>
public sealed class InitramfsException(string message) : Exception(message);
