namespace Shim.Patcher.Contracts;

/// <summary>How an instruction was found.</summary>
public enum SiteConfidence
{
    /// <summary>Found by linear sweep over bytes no reachable flow covered: may be data decoded as code.</summary>
    Low,

    /// <summary>Reached by recursive descent from an entry point, a known function or an image site table.</summary>
    High,
}
