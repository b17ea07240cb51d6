namespace Shim.Patcher;

/// <summary>The patch input itself is inconsistent (overlapping regions, bad trampoline area).</summary>
public sealed class PatchInputException(string message) : Exception(message);
