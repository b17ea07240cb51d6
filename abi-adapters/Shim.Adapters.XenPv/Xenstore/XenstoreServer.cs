using System.Globalization;
using System.Text;

namespace Shim.Adapters.XenPv.Xenstore;

/// <summary>
/// A single-domain xenstore (docs/misc/xenstore.txt semantics): READ, WRITE, MKDIR, RM, DIRECTORY, GET/SET_PERMS,
/// WATCH (with the immediate event), UNWATCH, TRANSACTION_START/END, GET_DOMAIN_PATH, RESET_WATCHES. Relative paths
/// live under /local/domain/&lt;domid&gt;; the guest may modify only that subtree. Transactions are accepted but not
/// isolated (changes apply at once; an abort does not roll back). Every malformed request gets an XS_ERROR reply;
/// nodes, watches and transactions are bounded (ENOSPC, E2BIG, EBUSY).
/// </summary>
public sealed class XenstoreServer
{
    public const int MaxAbsolutePath = 3072;
    public const int MaxWatches = 128;
    public const int MaxTransactions = 16;

    /// <summary>Node quota for the whole store (xenstored's default per-domain quota is 1000 nodes).</summary>
    public const int MaxNodes = 2048;

    private readonly XenstoreDomainInfo _info;
    private readonly string _home;
    private readonly List<Watch> _watches = [];
    private readonly HashSet<uint> _transactions = [];
    private uint _nextTransaction = 1;

    private sealed record Watch(string Path, string AbsolutePath, string Token);

    public XenstoreServer(XenstoreDomainInfo info)
    {
        _info = info;
        _home = $"/local/domain/{info.DomainId}";
        Populate();
    }

    public XenstoreTree Tree { get; } = new();

    public int WatchCount => _watches.Count;

    /// <summary>Handles one request; replies and watch events are appended to <paramref name="output"/> in order.</summary>
    public void Handle(XsMessageType type, uint requestId, uint transactionId, ReadOnlySpan<byte> payload, List<XsMessage> output)
    {
        if (transactionId != 0 && !_transactions.Contains(transactionId))
        {
            output.Add(Error(requestId, transactionId, "ENOENT"));
            return;
        }
        if (type == XsMessageType.Watch)
        {
            AddWatch(requestId, transactionId, payload, output);
            return;
        }
        var reply = type switch
        {
            XsMessageType.Read => Read(payload),
            XsMessageType.Write => Write(payload, output),
            XsMessageType.Mkdir => Mkdir(payload, output),
            XsMessageType.Rm => Remove(payload, output),
            XsMessageType.Directory => Directory(payload),
            XsMessageType.GetPerms => GetPerms(payload),
            XsMessageType.SetPerms => SetPerms(payload),
            XsMessageType.Unwatch => Unwatch(payload),
            XsMessageType.TransactionStart => TransactionStart(),
            XsMessageType.TransactionEnd => TransactionEnd(payload, transactionId),
            XsMessageType.GetDomainPath => GetDomainPath(payload),
            XsMessageType.ResetWatches => ResetWatches(),
            XsMessageType.Control or XsMessageType.Introduce or XsMessageType.Release or XsMessageType.IsDomainIntroduced or
                XsMessageType.Resume or XsMessageType.SetTarget => Result.Fail("EACCES"),
            _ => Result.Fail("EINVAL"),
        };
        // Watch events caused by this request were appended already; the reply goes before them.
        output.Insert(output.Count - reply.EventsAfter, reply.Error is { } error
            ? Error(requestId, transactionId, error)
            : new XsMessage(type, requestId, transactionId, reply.Payload));
    }

    /// <summary>A write by the VMM (e.g. control/shutdown = "poweroff"); watch events go to <paramref name="output"/>.</summary>
    public void HostWrite(string path, string value, List<XsMessage> output)
    {
        var absolute = Absolute(path) ?? throw new ArgumentException($"invalid xenstore path '{path}'", nameof(path));
        Tree.Write(absolute, Encoding.ASCII.GetBytes(value));
        FireWatches(absolute, output);
    }

    private readonly record struct Result(byte[] Payload, string? Error, int EventsAfter = 0)
    {
        public static Result Ok(byte[] payload, int eventsAfter = 0) => new(payload, null, eventsAfter);

        public static Result Fail(string error) => new([], error);
    }

    private static readonly byte[] OkPayload = "OK\0"u8.ToArray();

    private Result Read(ReadOnlySpan<byte> payload)
    {
        if (!TryOnePath(payload, out var path, out var error))
            return Result.Fail(error);
        return Tree.TryRead(path, out var value) ? Result.Ok(value) : Result.Fail("ENOENT");
    }

    private Result Write(ReadOnlySpan<byte> payload, List<XsMessage> output)
    {
        var nul = payload.IndexOf((byte)0);
        if (nul < 0 || !TryPath(payload[..nul], out var path))
            return Result.Fail("EINVAL");
        if (!IsWritable(path))
            return Result.Fail("EACCES");
        if (OverQuota(path))
            return Result.Fail("ENOSPC");
        Tree.Write(path, payload[(nul + 1)..].ToArray());
        return Result.Ok(OkPayload, FireWatches(path, output));
    }

    private Result Mkdir(ReadOnlySpan<byte> payload, List<XsMessage> output)
    {
        if (!TryOnePath(payload, out var path, out var error))
            return Result.Fail(error);
        if (!IsWritable(path))
            return Result.Fail("EACCES");
        if (OverQuota(path))
            return Result.Fail("ENOSPC");
        return Result.Ok(OkPayload, Tree.Mkdir(path) ? FireWatches(path, output) : 0);
    }

    private Result Remove(ReadOnlySpan<byte> payload, List<XsMessage> output)
    {
        if (!TryOnePath(payload, out var path, out var error))
            return Result.Fail(error);
        if (!IsWritable(path) || path == _home)
            return Result.Fail("EACCES");
        if (!Tree.Exists(path))
            return Tree.Exists(XenstoreTree.Parent(path)) ? Result.Ok(OkPayload) : Result.Fail("ENOENT");
        Tree.Remove(path);
        return Result.Ok(OkPayload, FireWatches(path, output));
    }

    private Result Directory(ReadOnlySpan<byte> payload)
    {
        if (!TryOnePath(payload, out var path, out var error))
            return Result.Fail(error);
        if (!Tree.TryList(path, out var children))
            return Result.Fail("ENOENT");
        var text = new StringBuilder();
        foreach (var child in children)
            text.Append(child).Append('\0');
        var bytes = Encoding.ASCII.GetBytes(text.ToString());
        return bytes.Length > XsMessage.PayloadMax ? Result.Fail("E2BIG") : Result.Ok(bytes);
    }

    private Result GetPerms(ReadOnlySpan<byte> payload)
    {
        if (!TryOnePath(payload, out var path, out var error))
            return Result.Fail(error);
        if (!Tree.Exists(path))
            return Result.Fail("ENOENT");
        var owner = IsWritable(path) ? _info.DomainId : 0;
        return Result.Ok(Encoding.ASCII.GetBytes($"n{owner}\0"));
    }

    private Result SetPerms(ReadOnlySpan<byte> payload)
    {
        var nul = payload.IndexOf((byte)0);
        if (nul < 0 || !TryPath(payload[..nul], out var path) || payload.Length == nul + 1)
            return Result.Fail("EINVAL");
        if (!IsWritable(path))
            return Result.Fail("EACCES");
        return Tree.Exists(path) ? Result.Ok(OkPayload) : Result.Fail("ENOENT");
    }

    private void AddWatch(uint requestId, uint transactionId, ReadOnlySpan<byte> payload, List<XsMessage> output)
    {
        if (!TryTwoStrings(payload, out var path, out var token))
        {
            output.Add(Error(requestId, transactionId, "EINVAL"));
            return;
        }
        var absolute = path.StartsWith('@') ? path : Absolute(path);
        if (absolute is null)
        {
            output.Add(Error(requestId, transactionId, "EINVAL"));
            return;
        }
        if (_watches.Exists(w => w.Path == path && w.Token == token))
        {
            output.Add(Error(requestId, transactionId, "EEXIST"));
            return;
        }
        if (_watches.Count >= MaxWatches)
        {
            output.Add(Error(requestId, transactionId, "E2BIG"));
            return;
        }
        var watch = new Watch(path, absolute, token);
        _watches.Add(watch);
        output.Add(new XsMessage(XsMessageType.Watch, requestId, transactionId, OkPayload));
        // A new watch fires once straight away, so the guest reads the current state.
        output.Add(WatchEvent(watch, absolute));
    }

    private Result Unwatch(ReadOnlySpan<byte> payload)
    {
        if (!TryTwoStrings(payload, out var path, out var token))
            return Result.Fail("EINVAL");
        return _watches.RemoveAll(w => w.Path == path && w.Token == token) > 0 ? Result.Ok(OkPayload) : Result.Fail("ENOENT");
    }

    private Result TransactionStart()
    {
        if (_transactions.Count >= MaxTransactions)
            return Result.Fail("EBUSY");
        var id = _nextTransaction++;
        _transactions.Add(id);
        return Result.Ok(Encoding.ASCII.GetBytes(id.ToString(CultureInfo.InvariantCulture) + "\0"));
    }

    private Result TransactionEnd(ReadOnlySpan<byte> payload, uint transactionId)
    {
        if (transactionId == 0)
            return Result.Fail("EINVAL");
        if (!payload.SequenceEqual("T\0"u8) && !payload.SequenceEqual("F\0"u8))
            return Result.Fail("EINVAL");
        _transactions.Remove(transactionId);
        return Result.Ok(OkPayload);
    }

    private static Result GetDomainPath(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 2 || payload[^1] != 0 || payload[..^1].IndexOf((byte)0) >= 0 ||
            !uint.TryParse(Encoding.ASCII.GetString(payload[..^1]), NumberStyles.None, CultureInfo.InvariantCulture, out var domid) ||
            domid > 0x7FEF)
            return Result.Fail("EINVAL");
        return Result.Ok(Encoding.ASCII.GetBytes($"/local/domain/{domid}\0"));
    }

    private Result ResetWatches()
    {
        _watches.Clear();
        _transactions.Clear();
        return Result.Ok(OkPayload);
    }

    /// <summary>Appends WATCH_EVENTs for every watch at or above the changed node (or below a removed one).</summary>
    private int FireWatches(string changed, List<XsMessage> output)
    {
        var fired = 0;
        foreach (var watch in _watches)
        {
            var at = watch.AbsolutePath;
            if (changed == at || changed.StartsWith(at == "/" ? "/" : at + "/", StringComparison.Ordinal))
            {
                output.Add(WatchEvent(watch, changed));
                fired++;
            }
            else if (at.StartsWith(changed + "/", StringComparison.Ordinal) && !Tree.Exists(at))
            {
                output.Add(WatchEvent(watch, at));
                fired++;
            }
        }
        return fired;
    }

    private XsMessage WatchEvent(Watch watch, string absolutePath)
    {
        var reported = !watch.Path.StartsWith('/') && !watch.Path.StartsWith('@') && absolutePath.StartsWith(_home + "/", StringComparison.Ordinal)
            ? absolutePath[(_home.Length + 1)..]
            : absolutePath;
        return new XsMessage(XsMessageType.WatchEvent, 0, 0, Encoding.ASCII.GetBytes($"{reported}\0{watch.Token}\0"));
    }

    private static XsMessage Error(uint requestId, uint transactionId, string errno) =>
        new(XsMessageType.Error, requestId, transactionId, Encoding.ASCII.GetBytes(errno + "\0"));

    private bool OverQuota(string path) => Tree.Count + Tree.MissingNodes(path) > MaxNodes;

    private bool IsWritable(string path) => path == _home || path.StartsWith(_home + "/", StringComparison.Ordinal);

    private bool TryOnePath(ReadOnlySpan<byte> payload, out string path, out string error)
    {
        path = "";
        error = "EINVAL";
        if (payload.Length == 0 || payload[^1] != 0 || payload[..^1].IndexOf((byte)0) >= 0)
            return false;
        return TryPath(payload[..^1], out path);
    }

    private static bool TryTwoStrings(ReadOnlySpan<byte> payload, out string first, out string second)
    {
        first = second = "";
        var nul = payload.IndexOf((byte)0);
        if (nul <= 0 || payload[^1] != 0 || nul == payload.Length - 1)
            return false;
        var rest = payload[(nul + 1)..^1];
        if (rest.IndexOf((byte)0) >= 0 || !IsPrintable(payload[..nul]) || !IsPrintable(rest))
            return false;
        first = Encoding.ASCII.GetString(payload[..nul]);
        second = Encoding.ASCII.GetString(rest);
        return true;
    }

    private bool TryPath(ReadOnlySpan<byte> raw, out string path)
    {
        path = "";
        foreach (var b in raw)
        {
            if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'/' or (byte)'_' or (byte)'@'))
                return false;
        }
        var absolute = Absolute(Encoding.ASCII.GetString(raw));
        if (absolute is null)
            return false;
        path = absolute;
        return true;
    }

    private string? Absolute(string path)
    {
        if (path.Length == 0)
            return null;
        var absolute = path.StartsWith('/') ? path : _home + "/" + path;
        if (absolute.Length > MaxAbsolutePath || absolute.Contains("//", StringComparison.Ordinal) || (absolute.Length > 1 && absolute.EndsWith('/')))
            return null;
        return absolute;
    }

    private static bool IsPrintable(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b < 0x20 || b > 0x7e)
                return false;
        }
        return true;
    }

    private void Populate()
    {
        var d = _info.DomainId.ToString(CultureInfo.InvariantCulture);
        var vm = $"/vm/{_info.Uuid}";
        void Set(string path, string value) => Tree.Write(path, Encoding.ASCII.GetBytes(value));
        Set("/local/domain/0/name", "Domain-0");
        Set("/local/domain/0/domid", "0");
        Set($"{vm}/name", _info.Name);
        Set($"{vm}/uuid", _info.Uuid.ToString());
        Set($"{_home}/domid", d);
        Set($"{_home}/name", _info.Name);
        Set($"{_home}/vm", vm);
        Set($"{_home}/console/ring-ref", _info.ConsoleRingFrame.ToString(CultureInfo.InvariantCulture));
        Set($"{_home}/console/port", _info.ConsolePort.ToString(CultureInfo.InvariantCulture));
        Set($"{_home}/console/limit", "1048576");
        Set($"{_home}/console/type", "xenconsoled");
        Set($"{_home}/console/output", "pty");
        Set($"{_home}/store/ring-ref", _info.StoreRingFrame.ToString(CultureInfo.InvariantCulture));
        Set($"{_home}/store/port", _info.StorePort.ToString(CultureInfo.InvariantCulture));
        Tree.Mkdir($"{_home}/device");
        Set($"{_home}/control/shutdown", "");
        Set($"{_home}/control/platform-feature-multiprocessor-suspend", "1");
        Set($"{_home}/control/platform-feature-xs_reset_watches", "1");
        Set($"{_home}/memory/target", _info.MemoryKib.ToString(CultureInfo.InvariantCulture));
        Set($"{_home}/memory/static-max", _info.MemoryKib.ToString(CultureInfo.InvariantCulture));
        for (var cpu = 0; cpu < _info.VcpuCount; cpu++)
            Set($"{_home}/cpu/{cpu}/availability", "online");
        foreach (var dir in new[] { "data", "drivers", "error", "feature", "attr" })
            Tree.Mkdir($"{_home}/{dir}");
    }
}
