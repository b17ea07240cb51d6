namespace Shim.Cli.Hosting;

/// <summary>
/// Process exit codes. Distinct values let scripts and the regression suite tell failures apart
/// without parsing text. Documented in docs/cli.md; never renumber.
/// </summary>
public static class ExitCodes
{
    public const int Success = 0;
    public const int UsageError = 2;
    public const int KvmUnavailable = 3;
    public const int ImageError = 4;
    public const int ConfigurationError = 5;
    public const int GuestTimeout = 6;
    public const int GuestTripleFault = 7;
    public const int GuestCrashed = 8;
    public const int GuestRebooted = 9;
    public const int EmulationFailure = 10;
    public const int GuestFailed = 11;
    public const int GuestExitStatus = 12;
    public const int BaselineFailed = 13;
    public const int GuestConfigInvalid = 14;
    public const int GuestNotParavirtualized = 15;
    public const int InitramfsInputInvalid = 16;
    public const int BenchTargetIncomplete = 17;
    public const int Interrupted = 130;
}
