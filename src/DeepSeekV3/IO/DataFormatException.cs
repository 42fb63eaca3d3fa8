namespace DeepSeekV3.IO;

/// <summary>A malformed record in a data file (an evaluation task, a chat or prompt set): the message starts with
/// <c>file:line:</c> and says what was expected and what was found.</summary>
public sealed class DataFormatException(string file, long line, string problem)
    : DeepSeekV3Exception($"{file}:{line}: {problem}")
{
    public string File { get; } = file;
    public long Line { get; } = line;
}
