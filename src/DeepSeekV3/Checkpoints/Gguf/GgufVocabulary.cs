using System.Text.Json;
using DeepSeekV3.Configuration;

namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// The tokenizer llama.cpp needs to load a model: a byte-level BPE ("gpt2") vocabulary of exactly vocab_size
/// tokens, their types and the merge list. Either the model's own HF tokenizer.json, or, for a model without one, a
/// placeholder: the 256 GPT-2 byte-alphabet tokens, BOS/EOS at the config's ids, one merge (llama.cpp refuses a
/// gpt2 vocabulary without merges) and padding. Logit cross-checks feed token ids directly, so the placeholder
/// only has to load; it also round-trips any byte string.
/// </summary>
public sealed class GgufVocabulary
{
    /// <summary>llama.cpp's token types.</summary>
    public const int Normal = 1, Control = 3, UserDefined = 4, Unused = 5;

    public const string BosText = "<｜begin▁of▁sentence｜>", EosText = "<｜end▁of▁sentence｜>";

    private GgufVocabulary(string[] tokens, int[] types, string[] merges)
    {
        Tokens = tokens;
        TokenTypes = types;
        Merges = merges;
    }

    public IReadOnlyList<string> Tokens { get; }
    public IReadOnlyList<int> TokenTypes { get; }
    public IReadOnlyList<string> Merges { get; }

    /// <summary>The tokenizer.ggml.* keys for a model with these BOS/EOS ids.</summary>
    public IEnumerable<(string Key, GgufValue Value)> Metadata(ModelConfig config)
    {
        yield return ("tokenizer.ggml.model", GgufValue.String("gpt2"));
        yield return ("tokenizer.ggml.pre", GgufValue.String("deepseek-v3"));
        yield return ("tokenizer.ggml.tokens", GgufValue.StringArray(Tokens));
        yield return ("tokenizer.ggml.token_type", GgufValue.Int32Array(TokenTypes));
        yield return ("tokenizer.ggml.merges", GgufValue.StringArray(Merges));
        if (config.BosTokenId is { } bos)
        {
            yield return ("tokenizer.ggml.bos_token_id", GgufValue.UInt32((uint)bos));
            yield return ("tokenizer.ggml.add_bos_token", GgufValue.Bool(true));
        }
        if (config.EosTokenId is { } eos)
            yield return ("tokenizer.ggml.eos_token_id", GgufValue.UInt32((uint)eos));
        yield return ("tokenizer.ggml.add_eos_token", GgufValue.Bool(false));
    }

    /// <summary>GPT-2's byte-to-character map: printable bytes are themselves, the rest move to U+0100 onwards.</summary>
    public static char[] ByteAlphabet()
    {
        var map = new char[256];
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)(256 + shifted++);
        }
        return map;
    }

    /// <summary>A placeholder vocabulary of <see cref="ModelConfig.VocabSize"/> tokens (see the class summary).</summary>
    public static GgufVocabulary Placeholder(ModelConfig config, string source)
    {
        int size = config.VocabSize;
        var tokens = new string?[size];
        var types = new int[size];
        void Place(int? id, string text, string field)
        {
            if (id is null) return;
            if (id < 0 || id >= size)
                throw new GgufException(source, $"{field} = {id} is outside the vocabulary [0, {size})");
            tokens[id.Value] = text;
            types[id.Value] = Control;
        }
        Place(config.BosTokenId, BosText, "bos_token_id");
        Place(config.EosTokenId, config.EosTokenId == config.BosTokenId ? BosText : EosText, "eos_token_id");

        // Bytes, then the one merged token, fill the lowest free ids; the rest is padding.
        var pieces = ByteAlphabet().Select(c => c.ToString()).Append("Ġt").ToList();
        int next = 0;
        foreach (string piece in pieces)
        {
            while (next < size && tokens[next] is not null) next++;
            if (next == size)
                throw new GgufException(source,
                    $"vocab_size {size} is too small for a byte-level placeholder vocabulary (needs 257 tokens besides BOS/EOS)");
            tokens[next] = piece;
            types[next] = Normal;
        }
        for (int id = 0; id < size; id++)
            if (tokens[id] is null)
            {
                tokens[id] = $"[PAD{id}]";
                types[id] = Unused;
            }
        return new GgufVocabulary(tokens!, types, ["Ġ t"]);
    }

    /// <summary>
    /// Reads an HF byte-level BPE tokenizer.json (model.type "BPE": model.vocab, model.merges as "a b" strings or
    /// [a, b] pairs, added_tokens) and pads it to <paramref name="vocabSize"/> with unused [PADn] tokens.
    /// </summary>
    public static GgufVocabulary FromTokenizerJson(string path, int vocabSize)
    {
        if (!File.Exists(path))
            throw new GgufException(path, "tokenizer file not found");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new GgufException(path, $"not valid JSON: {e.Message}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object
                || !model.TryGetProperty("type", out var type) || type.GetString() != "BPE")
                throw new GgufException(path, "expected a byte-level BPE tokenizer (model.type \"BPE\")");
            var tokens = new string?[vocabSize];
            var types = new int[vocabSize];
            void Set(string text, int id, int tokenType)
            {
                if (id < 0 || id >= vocabSize)
                    throw new GgufException(path, $"token \"{text}\" has id {id}, outside the model's vocab_size {vocabSize}");
                tokens[id] = text;
                types[id] = tokenType;
            }
            foreach (var entry in Property(model, "vocab", JsonValueKind.Object, path).EnumerateObject())
                Set(entry.Name, entry.Value.GetInt32(), Normal);
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
                foreach (var token in added.EnumerateArray())
                {
                    bool special = token.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                    Set(token.GetProperty("content").GetString()!, token.GetProperty("id").GetInt32(), special ? Control : UserDefined);
                }
            var merges = Property(model, "merges", JsonValueKind.Array, path).EnumerateArray()
                .Select(m => m.ValueKind == JsonValueKind.Array
                    ? string.Join(' ', m.EnumerateArray().Select(part => part.GetString()))
                    : m.GetString()!)
                .ToArray();
            for (int id = 0; id < vocabSize; id++)
                if (tokens[id] is null)
                {
                    tokens[id] = $"[PAD{id}]";
                    types[id] = Unused;
                }
            return new GgufVocabulary(tokens!, types, merges);
        }
    }

    private static JsonElement Property(JsonElement parent, string name, JsonValueKind kind, string path) =>
        parent.TryGetProperty(name, out var value) && value.ValueKind == kind
            ? value
            : throw new GgufException(path, $"model.{name}: expected a JSON {kind.ToString().ToLowerInvariant()}");
}
