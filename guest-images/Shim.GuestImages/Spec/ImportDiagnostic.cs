namespace Shim.GuestImages.Spec;

/// <summary>One setting of the source configuration that did not carry over as-is, and why.</summary>
/// <param name="Kind">How it was treated.</param>
/// <param name="Setting">Setting name as the source spells it (xl key, or libvirt element path like <c>devices/graphics</c>).</param>
/// <param name="Value">The value as written, shortened if very long; null when the setting is absent (e.g. a missing kernel).</param>
/// <param name="Reason">A sentence a person can act on.</param>
/// <param name="Location">Where in the source: <c>line N</c> or an element path; null when not tied to one place.</param>
public sealed record ImportDiagnostic(
    ImportDiagnosticKind Kind,
    string Setting,
    string? Value,
    string Reason,
    string? Location);

public enum ImportDiagnosticKind
{
    /// <summary>The guest asks for something Shim cannot provide yet; the guest may not behave as it did.</summary>
    Unsupported,
    /// <summary>The setting has no meaning under Shim (host scheduling, UUIDs, graphics of an HVM guest…) and is dropped.</summary>
    Ignored,
    /// <summary>The setting was superseded by another one in the same file (same rule the source toolstack applies).</summary>
    Overridden,
    /// <summary>Accepted, but worth knowing (e.g. a bootloader path that must be replaced by a kernel path).</summary>
    Note,
}
