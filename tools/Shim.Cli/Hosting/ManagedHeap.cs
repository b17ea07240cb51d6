using System.Runtime;

namespace Shim.Cli.Hosting;

/// <summary>Hands the host back the managed memory that building a guest used and no longer needs.</summary>
public static class ManagedHeap
{
    /// <summary>
    /// Call once the image is in guest memory and nothing refers to it. Decompressing, parsing and patching a kernel
    /// leave tens of MiB of large-object-heap garbage; a running guest allocates too little to bring on another full
    /// collection, so without this those pages would stay committed, and resident, for the whole run. An aggressive
    /// blocking collection compacts (large objects included) and decommits the freed space at once.
    /// </summary>
    public static void ReleaseAfterImageLoad()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
