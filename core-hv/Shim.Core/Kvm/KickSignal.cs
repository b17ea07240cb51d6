using System.Runtime.InteropServices;

namespace Shim.Core.Kvm;

/// <summary>
/// The signal that knocks a vCPU thread out of KVM_RUN (KVM returns EINTR when a signal is pending).
/// A real-time signal the .NET runtime does not use; the registration only keeps its default action
/// (terminate) from firing — the interruption of the ioctl is all we want.
/// </summary>
internal static class KickSignal
{
    /// <summary>SIGRTMIN+8 with glibc (SIGRTMIN = 34; .NET itself uses SIGRTMIN).</summary>
    public const int Number = 42;

    private static readonly Lock Gate = new();
    private static PosixSignalRegistration? _registration;

    public static void EnsureRegistered()
    {
        lock (Gate)
            _registration ??= PosixSignalRegistration.Create((PosixSignal)Number, context => context.Cancel = true);
    }
}
