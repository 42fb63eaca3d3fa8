namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// Element types of GGUF tensors this project writes, numbered as ggml's <c>ggml_type</c>: F32 for exact
/// cross-checks, F16 for half the size (llama.cpp then also rounds activations to F16 in places), and Q8_0 for about
/// a quarter (blocks of 32 weights: one F16 scale and 32 signed bytes, 8.5 bits per weight; see <see cref="Q8Blocks"/>).
/// </summary>
public enum GgufTensorType : uint
{
    F32 = 0,
    F16 = 1,
    Q8_0 = 8,
}

/// <summary>Storage sizes of <see cref="GgufTensorType"/>s.</summary>
public static class GgufTensorTypes
{
    /// <summary>Bytes of <paramref name="elements"/> values of <paramref name="type"/> (Q8_0: whole blocks only).</summary>
    public static long ByteLength(this GgufTensorType type, long elements) => type switch
    {
        GgufTensorType.F32 => elements * 4,
        GgufTensorType.F16 => elements * 2,
        GgufTensorType.Q8_0 when elements % Q8Blocks.BlockSize == 0 => elements / Q8Blocks.BlockSize * Q8Blocks.BlockBytes,
        GgufTensorType.Q8_0 => throw new ArgumentException($"Q8_0 stores whole blocks of {Q8Blocks.BlockSize}; {elements} values are not", nameof(elements)),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a GGUF tensor type this project handles"),
    };

    /// <summary>Whether rows of <paramref name="rowLength"/> values can be stored as <paramref name="type"/>.</summary>
    public static bool Fits(this GgufTensorType type, long rowLength) =>
        type != GgufTensorType.Q8_0 || rowLength % Q8Blocks.BlockSize == 0;
}
