namespace Shim.Patcher.Discovery;

/// <summary>What to do with executable bytes recursive descent did not reach.</summary>
public enum SweepMode
{
    /// <summary>Never decode unreached bytes.</summary>
    Off,

    /// <summary>Decode them linearly and report the sites found there, but rewrite none.</summary>
    ReportOnly,

    /// <summary>Decode them linearly; rewrite only sites whose rule proves them by a multi-instruction signature.</summary>
    RewriteProvenSignatures,
}
