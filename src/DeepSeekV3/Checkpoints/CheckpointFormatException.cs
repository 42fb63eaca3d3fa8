namespace DeepSeekV3.Checkpoints;

/// <summary>
/// A checkpoint file or directory is malformed or inconsistent (bad safetensors header, bad index, shard mismatch,
/// duplicate or unwritable tensor). The message starts with the file and, when one is concerned, the tensor.
/// </summary>
public sealed class CheckpointFormatException : DeepSeekV3Exception
{
    public CheckpointFormatException(string filePath, string? tensorName, string detail)
        : base(Compose(filePath, tensorName, detail))
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    public CheckpointFormatException(string filePath, string? tensorName, string detail, Exception inner)
        : base(Compose(filePath, tensorName, detail), inner)
    {
        FilePath = filePath;
        TensorName = tensorName;
    }

    /// <summary>The file (or checkpoint directory) that is wrong.</summary>
    public string FilePath { get; }

    /// <summary>The tensor concerned, or null when the problem is the file as a whole.</summary>
    public string? TensorName { get; }

    private static string Compose(string filePath, string? tensorName, string detail) =>
        tensorName is null ? $"{filePath}: {detail}" : $"{filePath}: tensor '{tensorName}': {detail}";
}
