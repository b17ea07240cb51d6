namespace Shim.Core.Flat;

/// <summary>A flat program or its options cannot be laid out (too large, bad load address, ...).</summary>
public sealed class FlatProgramException(string message) : Exception(message);
