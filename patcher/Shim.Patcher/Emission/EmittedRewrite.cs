namespace Shim.Patcher.Emission;

/// <summary>The bytes for one accepted plan: the new site bytes and, for a trampoline rewrite, its block.</summary>
internal sealed record EmittedRewrite(RewriteKind Kind, byte[] SiteBytes, ulong TrampolineAddress, byte[] TrampolineBytes);
