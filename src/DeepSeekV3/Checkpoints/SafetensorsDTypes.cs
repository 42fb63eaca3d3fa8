using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints;

/// <summary>Element sizes, header strings and torch <see cref="ScalarType"/> mappings of <see cref="SafetensorsDType"/>.</summary>
public static class SafetensorsDTypes
{
    // LibTorch codes TorchSharp 0.107 has no named members for (c10::ScalarType order).
    private const ScalarType Float8E5M2 = (ScalarType)23;
    private const ScalarType UInt16 = (ScalarType)27;
    private const ScalarType UInt32 = (ScalarType)28;
    private const ScalarType UInt64 = (ScalarType)29;

    private static readonly Dictionary<string, SafetensorsDType> ByHeaderString =
        Enum.GetValues<SafetensorsDType>().ToDictionary(d => d.ToString(), StringComparer.Ordinal);

    /// <summary>Bytes per element.</summary>
    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2 => 1,
        SafetensorsDType.I16 or SafetensorsDType.U16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.U32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.I64 or SafetensorsDType.U64 or SafetensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The string written in a safetensors header, e.g. "F8_E4M3".</summary>
    public static string ToHeaderString(this SafetensorsDType dtype) => dtype.ToString();

    /// <summary>Parses a header dtype string exactly (case-sensitive; numbers are not accepted).</summary>
    public static bool TryParse(string headerString, out SafetensorsDType dtype) =>
        ByHeaderString.TryGetValue(headerString, out dtype);

    public static ScalarType ToScalarType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL => ScalarType.Bool,
        SafetensorsDType.U8 => ScalarType.Byte,
        SafetensorsDType.I8 => ScalarType.Int8,
        SafetensorsDType.I16 => ScalarType.Int16,
        SafetensorsDType.U16 => UInt16,
        SafetensorsDType.I32 => ScalarType.Int32,
        SafetensorsDType.U32 => UInt32,
        SafetensorsDType.I64 => ScalarType.Int64,
        SafetensorsDType.U64 => UInt64,
        SafetensorsDType.F16 => ScalarType.Float16,
        SafetensorsDType.BF16 => ScalarType.BFloat16,
        SafetensorsDType.F32 => ScalarType.Float32,
        SafetensorsDType.F64 => ScalarType.Float64,
        SafetensorsDType.F8_E4M3 => Float8E4M3.TorchType,
        SafetensorsDType.F8_E5M2 => Float8E5M2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>The safetensors type of a torch dtype, or null when safetensors (or this library) has none.</summary>
    public static SafetensorsDType? FromScalarType(ScalarType type)
    {
        foreach (var dtype in Enum.GetValues<SafetensorsDType>())
            if (dtype.ToScalarType() == type)
                return dtype;
        return null;
    }
}
