using System.Text.Json;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// Reads an HF tokenizer.json holding a byte-level BPE (DeepSeek-V3, Llama 3, GPT-2 style). Anything that would make
/// our ids differ from HF's — another model type, a normalizer, dropout, an unknown pre-tokenizer — is refused with
/// a <see cref="TokenizerFileException"/> naming the field, rather than silently tokenizing differently.
/// </summary>
public static class TokenizerJsonReader
{
    public static TokenizerDefinition Read(string path)
    {
        if (!File.Exists(path))
            throw new TokenizerFileException($"{path}: tokenizer.json not found");
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 256 });
            return Parse(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw new TokenizerFileException($"{path}: not valid JSON: {e.Message}", e);
        }
        catch (TokenizerFileException e)
        {
            throw new TokenizerFileException($"{path}: {e.Message}", e);
        }
        catch (Exception e) when (e is InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw new TokenizerFileException($"{path}: unexpected tokenizer.json structure: {e.Message}", e);
        }
    }

    internal static TokenizerDefinition Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model))
            throw new TokenizerFileException("no 'model' object: not an HF tokenizer.json");
        CheckNormalizer(root);
        var rules = new List<SplitRule>();
        bool byteLevel = false;
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind != JsonValueKind.Null)
            ReadPreTokenizer(pre, rules, ref byteLevel);
        if (!byteLevel)
            throw new TokenizerFileException("pre_tokenizer has no ByteLevel step: not a byte-level BPE tokenizer");
        CheckDecoder(root);
        var (vocab, merges, ignoreMerges) = ReadModel(model);
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            foreach (var t in addedTokens.EnumerateArray())
            {
                added.Add(new AddedToken(t.GetProperty("id").GetInt32(), t.GetProperty("content").GetString()!,
                    Flag(t, "special"), Flag(t, "lstrip"), Flag(t, "rstrip")));
            }
        }
        return new TokenizerDefinition(vocab, merges, added, rules, ignoreMerges);
    }

    private static (Dictionary<string, int>, List<(string, string)>, bool) ReadModel(JsonElement model)
    {
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "" : "BPE";
        if (type != "BPE")
            throw new TokenizerFileException($"model.type is '{type}', only BPE is supported");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
            throw new TokenizerFileException("model.dropout is set: BPE dropout is random and not supported");
        foreach (string affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(affix, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0)
                throw new TokenizerFileException($"model.{affix} is set: not supported for byte-level BPE");
        }
        var vocab = new Dictionary<string, int>();
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
            vocab[entry.Name] = entry.Value.GetInt32();
        var merges = new List<(string, string)>();
        int index = 0;
        foreach (var m in model.GetProperty("merges").EnumerateArray())
        {
            if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2)
            {
                merges.Add((m[0].GetString()!, m[1].GetString()!));
            }
            else
            {
                string s = m.GetString() ?? "";
                string[] parts = s.Split(' ');
                if (parts.Length != 2)
                    throw new TokenizerFileException($"model.merges[{index}]: '{s}' is not two tokens separated by one space");
                merges.Add((parts[0], parts[1]));
            }
            index++;
        }
        return (vocab, merges, Flag(model, "ignore_merges"));
    }

    private static void ReadPreTokenizer(JsonElement pre, List<SplitRule> rules, ref bool byteLevel)
    {
        string type = pre.GetProperty("type").GetString() ?? "";
        switch (type)
        {
            case "Sequence":
                foreach (var p in pre.GetProperty("pretokenizers").EnumerateArray())
                    ReadPreTokenizer(p, rules, ref byteLevel);
                break;
            case "Split":
                if (byteLevel)
                    throw new TokenizerFileException("pre_tokenizer: a Split after ByteLevel is not supported");
                rules.Add(ReadSplit(pre));
                break;
            case "ByteLevel":
                if (Flag(pre, "add_prefix_space"))
                    throw new TokenizerFileException("pre_tokenizer ByteLevel.add_prefix_space=true is not supported");
                if (!pre.TryGetProperty("use_regex", out var useRegex) || useRegex.GetBoolean())
                    rules.Add(new SplitRule(SplitRule.Gpt2Pattern, SplitBehavior.Isolated));
                byteLevel = true;
                break;
            default:
                throw new TokenizerFileException($"pre_tokenizer type '{type}' is not supported (Sequence, Split, ByteLevel are)");
        }
    }

    private static SplitRule ReadSplit(JsonElement split)
    {
        var pattern = split.GetProperty("pattern");
        string regex = pattern.TryGetProperty("Regex", out var r) ? r.GetString()!
            : System.Text.RegularExpressions.Regex.Escape(pattern.GetProperty("String").GetString()!);
        string behavior = split.GetProperty("behavior").GetString() ?? "";
        var kind = behavior switch
        {
            "Isolated" => SplitBehavior.Isolated,
            "Removed" => SplitBehavior.Removed,
            _ => throw new TokenizerFileException($"pre_tokenizer Split.behavior '{behavior}' is not supported (Isolated, Removed are)"),
        };
        return new SplitRule(regex, kind, Flag(split, "invert"));
    }

    private static void CheckNormalizer(JsonElement root)
    {
        if (!root.TryGetProperty("normalizer", out var n) || n.ValueKind == JsonValueKind.Null)
            return;
        string type = n.GetProperty("type").GetString() ?? "";
        if (type == "Sequence" && n.GetProperty("normalizers").GetArrayLength() == 0)
            return;
        throw new TokenizerFileException($"normalizer '{type}' is not supported (byte-level BPE tokenizers have none)");
    }

    private static void CheckDecoder(JsonElement root)
    {
        if (!root.TryGetProperty("decoder", out var d) || d.ValueKind == JsonValueKind.Null)
            return;
        string type = d.GetProperty("type").GetString() ?? "";
        if (type != "ByteLevel")
            throw new TokenizerFileException($"decoder '{type}' is not supported (ByteLevel is)");
    }

    private static bool Flag(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;
}
