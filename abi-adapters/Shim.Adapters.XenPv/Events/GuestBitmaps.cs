using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Shim.Core.Memory;

namespace Shim.Adapters.XenPv.Events;

/// <summary>
/// Atomic bit operations on guest memory words. The guest (other vCPUs, or this one after the next exit) modifies the
/// same words concurrently, so every update is an interlocked operation, as Xen's set_bit/test_and_set_bit are.
/// </summary>
internal static class GuestBitmaps
{
    /// <summary>Sets the bit and returns whether it was already set.</summary>
    public static bool TestAndSet(IGuestMemory memory, GuestPhysicalAddress word, int wordBytes, int bit)
    {
        var span = memory.GetSpan(word, wordBytes);
        ref var first = ref MemoryMarshal.GetReference(span);
        if (wordBytes == 8)
        {
            var mask = 1UL << bit;
            return (Interlocked.Or(ref Unsafe.As<byte, ulong>(ref first), mask) & mask) != 0;
        }
        var mask32 = 1U << bit;
        return (Interlocked.Or(ref Unsafe.As<byte, uint>(ref first), mask32) & mask32) != 0;
    }

    /// <summary>Clears the bit and returns whether it was set.</summary>
    public static bool TestAndClear(IGuestMemory memory, GuestPhysicalAddress word, int wordBytes, int bit)
    {
        var span = memory.GetSpan(word, wordBytes);
        ref var first = ref MemoryMarshal.GetReference(span);
        if (wordBytes == 8)
        {
            var mask = 1UL << bit;
            return (Interlocked.And(ref Unsafe.As<byte, ulong>(ref first), ~mask) & mask) != 0;
        }
        var mask32 = 1U << bit;
        return (Interlocked.And(ref Unsafe.As<byte, uint>(ref first), ~mask32) & mask32) != 0;
    }

    public static bool Test(IGuestMemory memory, GuestPhysicalAddress word, int wordBytes, int bit)
    {
        var span = memory.GetSpan(word, wordBytes);
        var value = wordBytes == 8 ? Volatile.Read(ref Unsafe.As<byte, ulong>(ref MemoryMarshal.GetReference(span)))
            : Volatile.Read(ref Unsafe.As<byte, uint>(ref MemoryMarshal.GetReference(span)));
        return (value & (1UL << bit)) != 0;
    }

    public static void WriteWord(IGuestMemory memory, GuestPhysicalAddress word, int wordBytes, ulong value)
    {
        var span = memory.GetSpan(word, wordBytes);
        ref var first = ref MemoryMarshal.GetReference(span);
        if (wordBytes == 8)
            Volatile.Write(ref Unsafe.As<byte, ulong>(ref first), value);
        else
            Volatile.Write(ref Unsafe.As<byte, uint>(ref first), (uint)value);
    }
}
