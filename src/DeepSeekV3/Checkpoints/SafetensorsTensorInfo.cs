namespace DeepSeekV3.Checkpoints;

/// <summary>
/// One entry of a safetensors header. <paramref name="DataBegin"/> and <paramref name="DataEnd"/> are byte offsets
/// relative to the start of the data section (just after the header), as in the header's "data_offsets".
/// </summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, long[] Shape, long DataBegin, long DataEnd)
{
    public long ByteLength => DataEnd - DataBegin;

    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    public override string ToString() => $"{Name}: {DType} [{string.Join(", ", Shape)}]";
}
