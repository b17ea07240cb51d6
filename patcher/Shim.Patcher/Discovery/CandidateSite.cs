using Shim.Patcher.Contracts;

namespace Shim.Patcher.Discovery;

/// <summary>An instruction whose code some rule (or the engine's gate check) anchors on.</summary>
internal readonly record struct CandidateSite(RegionState State, ulong Address, SiteConfidence Confidence);
