using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Turns the <c>--data</c> arguments into documents: a directory means every file under it (recursively, in ordinal
/// path order, dot-files skipped); a <c>.jsonl</c> file holds one document per line in its string field <c>text</c>
/// (blank lines skipped); any other file is one plain-text document.
/// Text must be UTF-8 (a BOM is dropped). Like HF datasets' text/json loaders and Megatron's preprocess_data
/// (Python's strict decoding), invalid UTF-8 is an error naming the file, line and byte, not silently replaced with
/// U+FFFD; a NUL byte in the first 8000 bytes (git's test) marks a binary file, also an error.
/// </summary>
public static class DocumentSource
{
    private const int BinaryProbeBytes = 8000;

    public static IReadOnlyList<string> Files(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (string input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
                    .Where(f => !Path.GetFileName(f).StartsWith('.'))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (found.Count == 0)
                    throw new InvalidArgumentException($"--data \"{input}\": the directory holds no files");
                files.AddRange(found);
            }
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
    public static IEnumerable<(string Text, long BytesRead)> Documents(string file) =>
        file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? JsonLines(file) : PlainText(file);

    private static IEnumerable<(string Text, long BytesRead)> PlainText(string file)
    {
        byte[] bytes = File.ReadAllBytes(file);
        RejectBinary(file, bytes);
        int bom = bytes.AsSpan().StartsWith(Utf8Bom) ? Utf8Bom.Length : 0;
        string text = Decode(bytes.AsSpan(bom), offset => InvalidAt(file, bytes.AsSpan(bom), offset));
        return text.Length > 0 ? [(text, bytes.Length)] : [];
    }

    private static IEnumerable<(string Text, long BytesRead)> JsonLines(string file)
    {
        foreach (var (line, number, bytesRead) in Utf8LineReader.Lines(file))
        {
            string location = $"{file}:{number}";
            var content = number == 1 && line.Span.StartsWith(Utf8Bom) ? line[Utf8Bom.Length..] : line;
            if (content.Span.IndexOfAnyExcept(" \t\r"u8) < 0) continue;                     // blank line
            RequireUtf8(content.Span, offset => $"{location}: invalid UTF-8 at byte {offset + 1} of the line");
            string text = TextField(content, location);
            if (text.Length > 0) yield return (text, bytesRead);
        }
    }

    private static string TextField(ReadOnlyMemory<byte> line, string location)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            // System.Text.Json counts lines from 0 within the parsed text; the position in our line is what helps.
            string reason = e.Message.Split(" LineNumber:")[0];
            throw new InvalidArgumentException($"{location}: not valid JSON at byte {e.BytePositionInLine + 1} of the line ({reason})");
        }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidArgumentException($"{location}: expected a JSON object with a string field \"text\", found {Kind(root)}");
            if (!root.TryGetProperty("text", out var value))
                throw new InvalidArgumentException($"{location}: no field \"text\" (expected one document per line as {{\"text\": \"...\"}})");
            if (value.ValueKind != JsonValueKind.String)
                throw new InvalidArgumentException($"{location}: field \"text\" is {Kind(value)}, expected a string");
            return value.GetString()!;
        }
    }

    private static string Kind(JsonElement element) => IO.JsonLinesRecord.Kind(element);

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    private static void RejectBinary(string file, ReadOnlySpan<byte> bytes)
    {
        int nul = bytes[..Math.Min(bytes.Length, BinaryProbeBytes)].IndexOf((byte)0);
        if (nul >= 0)
            throw new InvalidArgumentException(
                $"--data \"{file}\": a binary file (NUL byte at offset {nul}), or UTF-16 text; expected UTF-8 text or .jsonl");
    }

    /// <summary>Strict UTF-8 → string; on an invalid sequence, throws the message <paramref name="describe"/> makes of
    /// its byte offset.</summary>
    private static string Decode(ReadOnlySpan<byte> bytes, InvalidUtf8Message describe)
    {
        RequireUtf8(bytes, describe);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Throws the message <paramref name="describe"/> makes of the first invalid UTF-8 sequence's byte offset.</summary>
    private static void RequireUtf8(ReadOnlySpan<byte> bytes, InvalidUtf8Message describe)
    {
        if (Utf8.IsValid(bytes)) return;
        int offset = 0;
        while (Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed) == OperationStatus.Done)
            offset += consumed;
        throw new InvalidArgumentException($"{describe(offset)} (expected UTF-8; convert it, e.g. iconv -f latin1 -t utf-8)");
    }

    private delegate string InvalidUtf8Message(int offset);

    /// <summary>"file:line: invalid UTF-8 at byte N of the line" for a byte offset in a plain-text file.</summary>
    private static string InvalidAt(string file, ReadOnlySpan<byte> text, int offset)
    {
        int line = text[..offset].Count((byte)'\n') + 1;
        int lineStart = text[..offset].LastIndexOf((byte)'\n') + 1;
        return $"{file}:{line}: invalid UTF-8 at byte {offset - lineStart + 1} of the line";
    }
}
