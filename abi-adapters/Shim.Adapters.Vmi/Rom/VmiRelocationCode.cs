namespace Shim.Adapters.Vmi.Rom;

/// <summary>
/// GetRelocationInfo as position-independent i386 code: the guest calls the ROM through whatever linear
/// address it mapped it at, so the code finds itself with call/pop and turns the ROM-relative target into
/// a linear one. In: EAX = call number. Out: EAX = target (0 unless CALL_REL), EDX = type. Clobbers ECX
/// and flags, as regparm allows.
/// </summary>
internal static class VmiRelocationCode
{
    public static void Write(Span<byte> destination, int codeOffset)
    {
        var code = new List<byte>(64);
        void Emit(params ReadOnlySpan<byte> bytes) => code.AddRange(bytes);
        void Emit32(int value) => code.AddRange(BitConverter.GetBytes(value));

        Emit(0x3D); Emit32(VmiRelocationPolicy.CallCount);       // cmp eax, CallCount
        var jaeAt = code.Count;
        Emit(0x73, 0x00);                                        // jae none (patched below)
        Emit(0xE8); Emit32(0);                                   // call here
        var here = codeOffset + code.Count;
        Emit(0x59);                                              // here: pop ecx
        Emit(0x0F, 0xB6, 0x94, 0x01); Emit32(VmiRom.TypeTableOffset - here);   // movzx edx, byte [ecx+eax+types]
        Emit(0x8B, 0x84, 0x81); Emit32(VmiRom.TargetTableOffset - here);       // mov eax, [ecx+eax*4+targets]
        Emit(0x85, 0xC0);                                        // test eax, eax
        Emit(0x74, 0x08);                                        // jz done
        Emit(0x81, 0xE9); Emit32(here);                          // sub ecx, here  -> ecx = ROM base
        Emit(0x01, 0xC8);                                        // add eax, ecx
        Emit(0xC3);                                              // done: ret
        code[jaeAt + 1] = (byte)(code.Count - (jaeAt + 2));
        Emit(0x31, 0xC0, 0x31, 0xD2, 0xC3);                      // none: xor eax,eax; xor edx,edx; ret
        if (codeOffset + code.Count > VmiRom.TypeTableOffset)
            throw new InvalidOperationException("relocation code overlaps the type table");
        code.ToArray().CopyTo(destination);
    }
}
