namespace Shim.Adapters.Contracts;

/// <summary>The adapter cannot build this guest (unsupported image, bad request); the message is shown as one line.</summary>
public sealed class GuestBuildException(string message) : Exception(message);
