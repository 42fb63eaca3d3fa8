using System.Text.Json;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// The fields of transformers' tokenizer_config.json that change tokenization: whether <c>addSpecialTokens</c> adds
/// BOS/EOS, which tokens those are, and the chat template. <see cref="None"/> stands for a bare tokenizer.json.
/// </summary>
public sealed record TokenizerConfig(
    bool AddBosToken,
    bool AddEosToken,
    string? BosToken,
    string? EosToken,
    string? PadToken,
    string? ChatTemplate,
    long? ModelMaxLength)
{
    /// <summary>No tokenizer_config.json: like HF's raw tokenizer.json (ByteLevel post-processor), nothing is added.</summary>
    public static TokenizerConfig None { get; } = new(false, false, null, null, null, null, null);

    public static TokenizerConfig Read(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new TokenizerFileException($"{path}: expected a JSON object");
            return new TokenizerConfig(
                Bool(root, "add_bos_token"), Bool(root, "add_eos_token"),
                TokenContent(root, "bos_token"), TokenContent(root, "eos_token"), TokenContent(root, "pad_token"),
                Template(root), root.TryGetProperty("model_max_length", out var m) && m.TryGetInt64(out long max) ? max : null);
        }
        catch (JsonException e)
        {
            throw new TokenizerFileException($"{path}: not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new TokenizerFileException($"{path}: unexpected tokenizer_config.json structure: {e.Message}", e);
        }
    }

    // transformers writes special tokens either as a string or as an AddedToken object with "content".
    private static string? TokenContent(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v))
            return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) => c.GetString(),
            _ => null,
        };
    }

    // A template is a string, or a list of {name, template} of which "default" is the chat template.
    private static string? Template(JsonElement root)
    {
        if (!root.TryGetProperty("chat_template", out var v))
            return null;
        if (v.ValueKind == JsonValueKind.String)
            return v.GetString();
        if (v.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in v.EnumerateArray())
            {
                if (t.TryGetProperty("name", out var n) && n.GetString() == "default")
                    return t.GetProperty("template").GetString();
            }
        }
        return null;
    }

    private static bool Bool(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
}
