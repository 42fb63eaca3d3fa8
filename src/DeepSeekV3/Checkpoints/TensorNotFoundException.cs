namespace DeepSeekV3.Checkpoints;

/// <summary>A tensor was asked for by a name the checkpoint file or directory does not hold.</summary>
public sealed class TensorNotFoundException : DeepSeekV3Exception
{
    public TensorNotFoundException(string location, string tensorName)
        : base($"{location}: no tensor named '{tensorName}'")
    {
        Location = location;
        TensorName = tensorName;
    }

    /// <summary>The safetensors file or checkpoint directory that was searched.</summary>
    public string Location { get; }

    public string TensorName { get; }
}
