namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// A GGUF file cannot be written or read, or a model cannot be expressed in llama.cpp's <c>deepseek2</c> layout.
/// The message starts with the file concerned.
/// </summary>
public sealed class GgufException : DeepSeekV3Exception
{
    public GgufException(string filePath, string detail) : base($"{filePath}: {detail}") => FilePath = filePath;

    public GgufException(string filePath, string detail, Exception inner) : base($"{filePath}: {detail}", inner) =>
        FilePath = filePath;

    public string FilePath { get; }
}
