using System.Text.Json;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Turns the <c>--data</c> arguments into documents: a directory means every file under it (recursively, in ordinal
/// path order); a <c>.jsonl</c> file holds one document per line in its <c>text</c> field; any other file is one
/// plain-text document (UTF-8).
/// </summary>
public static class DocumentSource
{
    public static IReadOnlyList<string> Files(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
                files.AddRange(Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(f => !Path.GetFileName(f).StartsWith('.'))
                    .Order(StringComparer.Ordinal));
            else if (File.Exists(input))
                files.Add(input);
            else
                throw new InvalidArgumentException($"--data \"{input}\": no such file or directory");
        }
        if (files.Count == 0)
            throw new InvalidArgumentException("--data: the given paths contain no files");
        return files.Select(Path.GetFullPath).ToList();
    }

    /// <summary>The documents of one file, with the bytes of the file consumed so far after each.</summary>
    public static IEnumerable<(string Text, long BytesRead)> Documents(string file)
    {
        if (!file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            string text = File.ReadAllText(file);
            if (text.Length > 0) yield return (text, new FileInfo(file).Length);
            yield break;
        }
        long bytes = 0, lineNumber = 0;
        foreach (string line in File.ReadLines(file))
        {
            lineNumber++;
            bytes += System.Text.Encoding.UTF8.GetByteCount(line) + 1;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var json = JsonDocument.Parse(line);
                text = json.RootElement.TryGetProperty("text", out var value) ? value.GetString() : null;
            }
            catch (JsonException e)
            {
                throw new DeepSeekV3Exception($"{file}:{lineNumber}: not a JSON object ({e.Message})", e);
            }
            if (text is null)
                throw new DeepSeekV3Exception($"{file}:{lineNumber}: expected a string field \"text\"");
            if (text.Length > 0) yield return (text, bytes);
        }
    }
}
