namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// Element types of GGUF tensors this project writes, numbered as ggml's <c>ggml_type</c>. Only unquantized types:
/// F32 for exact cross-checks, F16 for half the size (llama.cpp then also rounds activations to F16 in places).
/// </summary>
public enum GgufTensorType : uint
{
    F32 = 0,
    F16 = 1,
}

/// <summary>Sizes of <see cref="GgufTensorType"/> elements.</summary>
public static class GgufTensorTypes
{
    public static int ElementSize(this GgufTensorType type) => type switch
    {
        GgufTensorType.F32 => 4,
        GgufTensorType.F16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a GGUF tensor type this project handles"),
    };
}
