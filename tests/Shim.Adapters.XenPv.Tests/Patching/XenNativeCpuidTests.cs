using Shim.Adapters.XenPv.Emulation;
using Shim.Adapters.XenPv.Patching;
using Shim.Core.Machine;
using Xunit;

namespace Shim.Adapters.XenPv.Tests.Patching;

/// <summary>The vCPU CPUID table a patched forced-emulation site reads natively, against the emulated answers.</summary>
public sealed class XenNativeCpuidTests
{
    private const uint HypervisorBit = 1u << 31;
    private const uint VmxBit = 1u << 5;

    // A KVM-like supported table: basic leaves, indexed leaf 7 and 4, KVM's own signature at 0x40000000.
    private static readonly IReadOnlyList<CpuidLeaf> Table =
    [
        new(0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),
        new(1, 0, 0x00a00f11, 0x00020800, 0x7ed8320b | VmxBit, 0x178bfbff),
        new(4, 0, 0x121, 1, 2, 3, IndexSignificant: true),
        new(4, 1, 0x122, 4, 5, 6, IndexSignificant: true),
        new(7, 0, 0, 0x219c97a9, 0, 0, IndexSignificant: true),
        new(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
        new(0x40000001, 0, 0x01007afb, 0, 0, 0),
    ];

    private static (IReadOnlyList<CpuidLeaf> Native, CpuidPolicy Emulated) Build()
    {
        var policy = new CpuidPolicy(XenNativeCpuid.SourceFrom(Table), new CpuidPolicyOptions());
        return (XenNativeCpuid.Build(Table, policy), policy);
    }

    private static CpuidLeaf Leaf(IReadOnlyList<CpuidLeaf> table, uint function, uint index = 0) =>
        table.Single(l => l.Function == function && l.Index == index);

    [Fact]
    public void Xen_signature_and_leaves_replace_kvms_which_move_to_0x40000100()
    {
        var (native, _) = Build();

        var xen = Leaf(native, 0x40000000);
        Assert.Equal((0x566e6558u, 0x65584d4du, 0x4d4d566eu), (xen.Ebx, xen.Ecx, xen.Edx)); // "XenVMMXenVMM"
        Assert.Equal(1u, Leaf(native, 0x40000002).Eax); // one hypercall page
        Assert.Equal(0x4b4d564bu, Leaf(native, 0x40000100).Ebx); // "KVMKVMKVM" still findable by KVM
        Assert.Equal(0x01007afbu, Leaf(native, 0x40000101).Eax);
        Assert.Equal(3, native.Count(l => l.Function == 0x40000003 && l.IndexSignificant));
    }

    [Fact]
    public void Feature_policy_is_applied_to_the_native_table()
    {
        var (native, _) = Build();

        var features = Leaf(native, 1);
        Assert.Equal(0u, features.Ecx & VmxBit);
        Assert.NotEqual(0u, features.Ecx & HypervisorBit);
        Assert.Equal(Table.Count(l => (l.Function & 0xF0000000) != 0x40000000), native.Count(l => l.Function < 0x40000000));
    }

    [Fact]
    public void Every_native_answer_equals_the_forced_emulation_answer()
    {
        var (native, emulated) = Build();

        Assert.All(native.Where(l => l.Function < 0x40000100), leaf =>
        {
            var answer = emulated.Query(leaf.Function, leaf.Index);
            Assert.Equal((answer.Eax, answer.Ebx, answer.Ecx, answer.Edx), (leaf.Eax, leaf.Ebx, leaf.Ecx, leaf.Edx));
        });
        Assert.Equal(0x122u, Leaf(native, 4, 1).Eax); // subleaves keep their own data
    }
}
