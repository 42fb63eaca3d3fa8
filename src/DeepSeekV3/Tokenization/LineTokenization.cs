using System.Text;
using System.Text.Json;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// Line-oriented encoding and decoding for the command line and data tools: one JSON array of ids per input line,
/// each line encoded together with its own "\n" so that the decoded lines concatenate back to the input exactly.
/// </summary>
public static class LineTokenization
{
    private const int LinesPerBatch = 4096;

    /// <summary>Encodes every line of UTF-8 <paramref name="input"/> (invalid UTF-8 raises
    /// <see cref="TokenizerInputException"/>) and writes one JSON array per line to <paramref name="output"/>.</summary>
    public static void EncodeLines(ByteLevelBpeTokenizer tokenizer, Stream input, TextWriter output, bool addSpecialTokens)
    {
        using var buffer = new MemoryStream();
        input.CopyTo(buffer);
        string text = Utf16Validation.DecodeStrict(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        var lines = SplitLines(text);
        for (int start = 0; start < lines.Count; start += LinesPerBatch)
        {
            var batch = lines.GetRange(start, Math.Min(LinesPerBatch, lines.Count - start));
            foreach (int[] ids in tokenizer.EncodeBatch(batch, addSpecialTokens))
                output.WriteLine(JsonSerializer.Serialize(ids));
        }
    }

    /// <summary>Reads JSON arrays of ids, one per line, and writes their text; characters split across lines are
    /// joined (the ids are decoded as one stream).</summary>
    public static void DecodeLines(ByteLevelBpeTokenizer tokenizer, TextReader input, TextWriter output, bool skipSpecialTokens)
    {
        var decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens);
        int lineNumber = 0;
        while (input.ReadLine() is string line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            int[] ids;
            try
            {
                ids = JsonSerializer.Deserialize<int[]>(line) ?? throw new JsonException("null");
            }
            catch (JsonException e)
            {
                throw new TokenizerInputException($"line {lineNumber}: expected a JSON array of token ids ({e.Message})");
            }
            var text = new StringBuilder();
            foreach (int id in ids)
                text.Append(decoder.Push(id));
            output.Write(text);
        }
        output.Write(decoder.Flush());
    }

    /// <summary>The lines of <paramref name="text"/>, each keeping its "\n"; their concatenation is the text.</summary>
    public static List<string> SplitLines(string text)
    {
        var lines = new List<string>();
        int start = 0;
        while (start < text.Length)
        {
            int newline = text.IndexOf('\n', start);
            int end = newline < 0 ? text.Length : newline + 1;
            lines.Add(text[start..end]);
            start = end;
        }
        return lines;
    }
}
