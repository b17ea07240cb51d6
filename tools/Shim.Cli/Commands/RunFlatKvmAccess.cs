using Shim.Cli.Hosting;
using Shim.Core.Kvm;

namespace Shim.Cli.Commands;

/// <summary>Opens /dev/kvm for a command and turns KVM failures into one-line errors with exit code 3.</summary>
internal static class KvmAccess
{
    public static KvmSystem Open(CliContext context)
    {
        try
        {
            return KvmSystem.Open(context.Logger);
        }
        catch (KvmException e)
        {
            var hint = e.ErrorNumber switch
            {
                Errno.ENOENT => " (no KVM on this host: load kvm_intel, kvm_amd or kvm_pvm)",
                Errno.EACCES or Errno.EPERM => " (add yourself to the 'kvm' group or run as root)",
                _ => "",
            };
            throw new CliError(ExitCodes.KvmUnavailable, $"/dev/kvm is unusable: {e.Message}{hint}");
        }
    }

    public static T Guard<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (KvmException e)
        {
            throw new CliError(ExitCodes.KvmUnavailable, $"KVM refused: {e.Message}");
        }
    }
}
