using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using DeepSeekV3.Modeling;

namespace DeepSeekV3.Tests.Native;

/// <summary>
/// The library never converts to a TorchSharp Scalar implicitly: such a Scalar is freed by the finalizer, possibly while
/// LibTorch still reads it (<see cref="Scalars"/>). Checked in the compiled IL, where every implicit conversion is a
/// call to <c>Scalar.op_Implicit</c>, so a new <c>t.clamp_min(0)</c> anywhere fails here with its method named.
/// </summary>
public class ScalarConversionTests
{
    [Fact]
    public void The_library_makes_no_Scalar_by_implicit_conversion()
    {
        var offenders = ImplicitScalarCalls(typeof(Scalars).Assembly.Location);
        Assert.True(offenders.Count == 0, "implicit Scalar conversions in: " + string.Join(", ", offenders));
    }

    [Fact]
    public void The_check_finds_an_implicit_conversion_where_there_is_one()
    {
        Assert.Contains(ImplicitScalarCalls(typeof(ScalarConversionTests).Assembly.Location), m => m.EndsWith("::" + nameof(Converts)));
    }

    /// <summary>One implicit conversion, for the check above to find in this assembly.</summary>
    private static double Converts(double value)
    {
        using TorchSharp.Scalar scalar = value;
        return TorchSharp.ScalarExtensionMethods.ToDouble(scalar);
    }

    /// <summary>"Type::Method" for every method body in the assembly that calls an implicit conversion to Scalar.</summary>
    private static List<string> ImplicitScalarCalls(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var conversions = metadata.MemberReferences
            .Where(h => metadata.GetMemberReference(h) is var member && metadata.GetString(member.Name) == "op_Implicit"
                        && member.Parent.Kind == HandleKind.TypeReference
                        && metadata.GetString(metadata.GetTypeReference((TypeReferenceHandle)member.Parent).Name) == "Scalar")
            .Select(h => MetadataTokens.GetToken(h))
            .ToHashSet();
        var found = new List<string>();
        foreach (var typeHandle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(typeHandle);
            foreach (var methodHandle in type.GetMethods())
            {
                var method = metadata.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress == 0) continue;
                var reader = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
                if (CallsAny(ref reader, conversions))
                    found.Add($"{metadata.GetString(type.Name)}::{metadata.GetString(method.Name)}");
            }
        }
        return found;
    }

    /// <summary>Walks the IL instruction by instruction (so operand bytes are never read as opcodes) for a call to one of <paramref name="targets"/>.</summary>
    private static bool CallsAny(ref BlobReader il, HashSet<int> targets)
    {
        while (il.RemainingBytes > 0)
        {
            int code = il.ReadByte();
            if (code == 0xFE) code = 0xFE00 | il.ReadByte();
            switch (code)
            {
                case 0x28 or 0x6F or 0x73:                                   // call, callvirt, newobj
                    if (targets.Contains(il.ReadInt32())) return true;
                    break;
                case 0x45:                                                   // switch
                    il.Offset += 4 * (int)il.ReadUInt32();
                    break;
                default:
                    il.Offset += OperandBytes(code);
                    break;
            }
        }
        return false;
    }

    /// <summary>Operand size of every other ECMA-335 opcode (III.1.2).</summary>
    private static int OperandBytes(int code) => code switch
    {
        0x0E or 0x0F or 0x10 or 0x11 or 0x12 or 0x13 or 0x1F or (>= 0x2B and <= 0x37) or 0xDE => 1,   // short forms, ldc.i4.s
        0x20 or 0x22 or (>= 0x38 and <= 0x44) or 0xDD => 4,                                           // ldc.i4, ldc.r4, long branches, leave
        0x21 or 0x23 => 8,                                                                            // ldc.i8, ldc.r8
        0x27 or 0x29 or 0x70 or 0x71 or 0x72 or 0x74 or 0x75 or 0x79 or 0x7B or 0x7C or 0x7D or 0x7E or 0x7F
            or 0x80 or 0x81 or 0x8C or 0x8D or 0x8F or 0xA3 or 0xA4 or 0xA5 or 0xC2 or 0xC6 or 0xD0
            or 0xFE06 or 0xFE07 or 0xFE15 or 0xFE16 or 0xFE1C => 4,                                   // tokens
        0xFE09 or 0xFE0A or 0xFE0B or 0xFE0C or 0xFE0D or 0xFE0E => 2,                              // ldarg, starg, ldloc… (long)
        0xFE12 or 0xFE19 => 1,                                                                        // unaligned., no.
        _ => 0,
    };
}
