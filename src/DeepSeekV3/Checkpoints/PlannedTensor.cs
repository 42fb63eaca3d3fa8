namespace DeepSeekV3.Checkpoints;

/// <summary>A tensor that a checkpoint writer will produce later: what its header entry says before the data exists.</summary>
public sealed record PlannedTensor(string Name, SafetensorsDType DType, long[] Shape)
{
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    public long ByteLength => ElementCount * DType.ElementSize();
}
