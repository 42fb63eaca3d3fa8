using System.Text.Json;
using DeepSeekV3.Training.Data;

namespace DeepSeekV3.IO;

/// <summary>
/// One JSON object of a <c>.jsonl</c> file with its 1-based line number, and typed access to its fields: a missing
/// field or a value of the wrong kind is a <see cref="DataFormatException"/> naming file, line and field. Blank lines
/// are skipped; invalid UTF-8 and invalid JSON are errors, never replaced or ignored.
/// </summary>
public sealed record JsonLinesRecord(string File, long Line, JsonElement Root)
{
    /// <summary>Every object of <paramref name="file"/>, in order (each <see cref="Root"/> is a detached clone).</summary>
    public static IEnumerable<JsonLinesRecord> Read(string file)
    {
        if (!System.IO.File.Exists(file))
            throw new InvalidArgumentException($"\"{file}\": no such file");
        foreach (var (line, number, _) in Utf8LineReader.Lines(file))
        {
            var content = number == 1 && line.Span.StartsWith("\uFEFF"u8) ? line[3..] : line;
            if (content.Span.IndexOfAnyExcept(" \t\r"u8) < 0) continue;
            if (!System.Text.Unicode.Utf8.IsValid(content.Span))
                throw new DataFormatException(file, number, "invalid UTF-8 (expected a UTF-8 JSON object per line)");
            JsonElement root;
            try
            {
                using var json = JsonDocument.Parse(content);
                root = json.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new DataFormatException(file, number,
                    $"not valid JSON at byte {e.BytePositionInLine + 1} of the line ({e.Message.Split(" LineNumber:")[0]})");
            }
            if (root.ValueKind != JsonValueKind.Object)
                throw new DataFormatException(file, number, $"expected a JSON object, found {Kind(root)}");
            yield return new JsonLinesRecord(file, number, root);
        }
    }

    public DataFormatException Error(string problem) => new(File, Line, problem);

    public JsonElement Required(string field, JsonValueKind kind, string expected)
    {
        if (!Root.TryGetProperty(field, out var value))
            throw Error($"no field \"{field}\" (expected {expected})");
        if (value.ValueKind != kind)
            throw Error($"field \"{field}\" is {Kind(value)}, expected {expected}");
        return value;
    }

    public string String(string field) => Required(field, JsonValueKind.String, "a string").GetString()!;

    public bool Has(string field) => Root.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null;

    public int Integer(string field)
    {
        var value = Required(field, JsonValueKind.Number, "an integer");
        return value.TryGetInt32(out int result) ? result : throw Error($"field \"{field}\" is {value.GetRawText()}, expected an integer");
    }

    /// <summary>A field holding a string, or a number written as JSON (an answer may be either: "7" or 7).</summary>
    public string StringOrNumber(string field)
    {
        if (!Root.TryGetProperty(field, out var value))
            throw Error($"no field \"{field}\" (expected a string or a number)");
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number => value.GetRawText(),
            _ => throw Error($"field \"{field}\" is {Kind(value)}, expected a string or a number"),
        };
    }

    public IReadOnlyList<string> Strings(string field)
    {
        var array = Required(field, JsonValueKind.Array, "an array of strings");
        return array.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.String
            ? e.GetString()!
            : throw Error($"field \"{field}\"[{i}] is {Kind(e)}, expected a string")).ToList();
    }

    public static string Kind(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        var kind => $"a {kind.ToString().ToLowerInvariant()}",
    };
}
