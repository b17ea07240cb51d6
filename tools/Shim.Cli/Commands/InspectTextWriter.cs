namespace Shim.Cli.Commands;

/// <summary>Renders an <see cref="InspectReport"/> for people.</summary>
public static class InspectTextWriter
{
    public static void Write(TextWriter o, InspectReport r)
    {
        o.WriteLine($"Image:         {r.File}");
        o.WriteLine($"Format:        {r.Format}{(r.Compression is { } c ? $" ({c} payload)" : "")}");
        o.WriteLine($"Architecture:  {r.Architecture}");
        o.WriteLine($"ABI:           {r.Abi} — {(r.Supported ? "supported" : "REFUSED")}");
        foreach (var reason in r.Reasons)
            o.WriteLine($"  because      {reason}");
        o.WriteLine($"Entry:         {r.Entry}");
        o.WriteLine($"Virtual base:  {r.VirtualBase}");
        if (r.SetupHeader is { } h)
        {
            o.WriteLine("Setup header:");
            o.WriteLine($"  boot protocol {h.Version}, setup_sects {h.SetupSects}, hardware_subarch {h.HardwareSubarchName}");
            o.WriteLine($"  xloadflags {h.XLoadFlags ?? "n/a"} [{string.Join(" ", h.XLoadFlagNames)}], kernel_alignment {h.KernelAlignment ?? "n/a"}, relocatable {h.RelocatableKernel}");
            o.WriteLine($"  payload_offset {h.PayloadOffset}, payload_length {h.PayloadLength}, init_size {h.InitSize}, cmdline_size {h.CmdlineSize}");
        }
        o.WriteLine("Segments:");
        foreach (var s in r.Segments)
            o.WriteLine($"  [{s.Index}] {s.Permissions} vaddr {s.VirtualAddress,-20} paddr {s.PhysicalAddress,-20} filesz 0x{s.FileSize:x} memsz 0x{s.MemorySize:x}");
        if (r.Xen is { } x)
        {
            o.WriteLine($"Xen ({x.Source}):");
            o.WriteLine($"  entry {x.Entry}{(x.ExplicitPvEntry ? "" : " (from e_entry)")}, virt_base {x.VirtualBase}, paddr_offset {x.PaddrOffset}, hypercall_page {x.HypercallPage ?? "none"}, init_p2m {x.InitP2m ?? "none"}");
            o.WriteLine($"  features: {string.Join(" ", x.Features.Select(f => (f.Required ? "!" : "") + f.Name + (f.Bit is { } b ? $"({b})" : "(unknown)")))}");
            o.WriteLine($"  supported features: {string.Join(" ", x.SupportedFeatures)}");
            o.WriteLine("  notes:");
            foreach (var n in x.Notes)
                o.WriteLine($"    {n.Type,2} {n.Name,-18} {n.Value}{(n.Problem is { } p ? $"  ({p})" : "")}");
        }
        if (r.Vmi is { } v)
            o.WriteLine($"VMI: .parainstructions {(v.HasParainstructions ? $"{v.ParainstructionsEntries} records ({v.ParainstructionsSize} bytes)" : "absent")}, VMI symbols [{string.Join(", ", v.VmiSymbols)}], \"cVmi\" ×{v.RomSignatureOccurrences}");
        var hc = r.Hypercalls;
        o.WriteLine($"Hypercalls:    {(hc.Mechanisms.Count == 0 ? "none found" : string.Join(", ", hc.Mechanisms))}");
        o.WriteLine($"  hypercall page {hc.HypercallPage ?? "none"}, inline syscall ×{hc.InlineSyscall}, inline int 0x82 ×{hc.InlineInt82} ({hc.ScannedBytes} executable bytes scanned)");
    }
}
