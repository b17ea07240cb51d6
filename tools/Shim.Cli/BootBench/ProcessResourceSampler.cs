using System.Globalization;

namespace Shim.Cli.BootBench;

/// <summary>
/// Samples a running process's CPU time and memory from /proc on its own thread. CPU time matters on a shared host,
/// where wall time mostly measures the other load. VmHWM is the kernel's peak RSS, so the last
/// sample before exit is at most one interval stale. Guest RAM is the anonymous mapping whose size is the guest's RAM
/// (QEMU's pc.ram, Shim's KVM memory slot); its resident part is subtracted to get what the VMM itself uses.
/// </summary>
public sealed class ProcessResourceSampler : IDisposable
{
    // A VMM may round its RAM mapping up (alignment, a monitor page); anything this close counts as guest RAM.
    private const long GuestRamSlackKiB = 16 << 10;

    private readonly int _pid;
    private readonly long _guestRamKiB;
    private readonly TimeSpan _interval;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public ProcessResourceSampler(int pid, ulong guestRamBytes, TimeSpan interval)
    {
        _pid = pid;
        _guestRamKiB = (long)(guestRamBytes >> 10);
        _interval = interval;
        _thread = new Thread(Loop) { IsBackground = true, Name = $"memory sampler {pid}" };
        _thread.Start();
    }

    public long? PeakResidentKiB { get; private set; }
    public long? PeakBeyondGuestRamKiB { get; private set; }

    /// <summary>User + system CPU time of all threads at the last sample.</summary>
    public TimeSpan? CpuTime { get; private set; }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
    }

    private void Loop()
    {
        while (!_stopping && Sample())
            Thread.Sleep(_interval);
    }

    /// <summary>False once the process is gone (or has released its memory as a zombie).</summary>
    private bool Sample()
    {
        string status;
        string smaps;
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{_pid}/stat");
            status = File.ReadAllText($"/proc/{_pid}/status");
            smaps = File.ReadAllText($"/proc/{_pid}/smaps");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
        if (StatusKiB(status, "VmHWM:") is not { } peak)
            return false;
        PeakResidentKiB = Math.Max(PeakResidentKiB ?? 0, peak);
        CpuTime = StatCpuTime(stat) ?? CpuTime;
        // Both terms from the one smaps read: VmRSS from status was read earlier, so a VMM unmapping its guest RAM
        // between the two reads (at exit) showed up as a spike of "beyond" the size of the guest's resident RAM.
        var (resident, guestRam) = ResidentKiB(smaps);
        PeakBeyondGuestRamKiB = Math.Max(PeakBeyondGuestRamKiB ?? 0, resident - guestRam);
        return true;
    }

    // /proc/PID/stat: "pid (comm) state ..." with utime and stime the 12th and 13th fields after the command name,
    // in USER_HZ ticks (100 per second on x86 Linux). comm may contain spaces, hence the search for the last ')'.
    private static TimeSpan? StatCpuTime(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 12
               && long.TryParse(fields[11], NumberStyles.None, CultureInfo.InvariantCulture, out var user)
               && long.TryParse(fields[12], NumberStyles.None, CultureInfo.InvariantCulture, out var system)
            ? TimeSpan.FromMilliseconds((user + system) * 10)
            : null;
    }

    private static long? StatusKiB(string status, string key)
    {
        foreach (var line in status.AsSpan().EnumerateLines())
        {
            if (!line.StartsWith(key, StringComparison.Ordinal))
                continue;
            var value = line[key.Length..].Trim();
            return long.TryParse(value[..value.IndexOf(' ')], NumberStyles.None, CultureInfo.InvariantCulture, out var kib) ? kib : null;
        }
        return null;
    }

    /// <summary>Resident KiB of every mapping, and of the guest-RAM mapping(s) among them.</summary>
    private (long All, long GuestRam) ResidentKiB(string smaps)
    {
        long all = 0, guestRam = 0;
        var inGuestRam = false;
        foreach (var line in smaps.AsSpan().EnumerateLines())
        {
            if (IsMappingHeader(line))
                inGuestRam = IsAnonymous(line);
            else if (line.StartsWith("Size:", StringComparison.Ordinal))
                inGuestRam &= FieldKiB(line) is var size && size >= _guestRamKiB && size <= _guestRamKiB + GuestRamSlackKiB;
            else if (line.StartsWith("Rss:", StringComparison.Ordinal))
            {
                var kib = FieldKiB(line);
                all += kib;
                if (inGuestRam)
                    guestRam += kib;
            }
        }
        return (all, guestRam);
    }

    // "7f42f3e00000-7f4303e00000 rw-p 00000000 00:00 0   [path]": mapping lines start with a hex range.
    private static bool IsMappingHeader(ReadOnlySpan<char> line) =>
        line.IndexOf(' ') is var space && space > 0 && line[..space].Contains('-') && !line[..space].EndsWith(":");

    private static bool IsAnonymous(ReadOnlySpan<char> line)
    {
        Span<Range> parts = stackalloc Range[7];
        var count = line.Split(parts, ' ', StringSplitOptions.RemoveEmptyEntries);
        return count == 5 && line[parts[4]].SequenceEqual("0");
    }

    private static long FieldKiB(ReadOnlySpan<char> line)
    {
        var value = line[(line.IndexOf(':') + 1)..].Trim();
        var space = value.IndexOf(' ');
        return long.TryParse(space > 0 ? value[..space] : value, NumberStyles.None, CultureInfo.InvariantCulture, out var kib) ? kib : 0;
    }
}
