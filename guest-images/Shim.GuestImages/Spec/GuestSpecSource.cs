namespace Shim.GuestImages.Spec;

/// <summary>The configuration a <see cref="GuestSpec"/> was imported from.</summary>
/// <param name="Format">Source format: <c>xl</c>, <c>xm</c> or <c>libvirt</c>.</param>
/// <param name="Path">File name as given by the user (or a caller-supplied label for in-memory text).</param>
public sealed record GuestSpecSource(string Format, string Path);
