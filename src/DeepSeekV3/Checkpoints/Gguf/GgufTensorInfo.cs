namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// One tensor of a GGUF file. <paramref name="Dimensions"/> is ggml's <c>ne</c>: fastest-varying dimension first,
/// i.e. the PyTorch shape reversed (a weight [out, in] has ne {in, out}). <paramref name="Offset"/> is relative to
/// the start of the data section.
/// </summary>
public sealed record GgufTensorInfo(string Name, long[] Dimensions, GgufTensorType Type, long Offset)
{
    public long ElementCount => Dimensions.Aggregate(1L, (n, d) => n * d);

    public long ByteLength => Type.ByteLength(ElementCount);

    /// <summary>The PyTorch (row-major) shape of the same data: <see cref="Dimensions"/> reversed.</summary>
    public long[] TorchShape => Dimensions.Reverse().ToArray();

    public override string ToString() => $"{Name}: {Type} ne {{{string.Join(", ", Dimensions)}}}";
}
