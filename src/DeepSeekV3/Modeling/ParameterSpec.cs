namespace DeepSeekV3.Modeling;

/// <summary>One tensor of the model's state dict: its checkpoint name, shape and how it is initialized.</summary>
public sealed record ParameterSpec(string Name, long[] Shape, ParameterRole Role)
{
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);
}
