using System.Text.Encodings.Web;
using System.Text.Json;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// Writes a byte-level BPE as HF tokenizer.json (same layout as DeepSeek-V3's: Split rules then a ByteLevel step
/// without regex, ByteLevel decoder, no BOS in the post-processor) and a transformers tokenizer_config.json.
/// </summary>
public static class TokenizerJsonWriter
{
    private static readonly JsonWriterOptions Options = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static void WriteTokenizerJson(TokenizerDefinition definition, string path)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, Options);
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        foreach (var t in definition.AddedTokens)
        {
            w.WriteStartObject();
            w.WriteNumber("id", t.Id);
            w.WriteString("content", t.Content);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", t.LStrip);
            w.WriteBoolean("rstrip", t.RStrip);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", t.Special);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("normalizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("normalizers");
        w.WriteEndArray();
        w.WriteEndObject();
        WritePreTokenizer(w, definition.SplitRules);
        WriteByteLevel(w, "post_processor", addPrefixSpace: true, trimOffsets: false, useRegex: true);
        WriteByteLevel(w, "decoder", addPrefixSpace: true, trimOffsets: true, useRegex: true);
        WriteModel(w, definition);
        w.WriteEndObject();
    }

    public static void WriteTokenizerConfig(TokenizerConfig config, string path)
    {
        using var stream = File.Create(path);
        using var w = new Utf8JsonWriter(stream, Options);
        w.WriteStartObject();
        w.WriteBoolean("add_bos_token", config.AddBosToken);
        w.WriteBoolean("add_eos_token", config.AddEosToken);
        w.WriteString("bos_token", config.BosToken);
        w.WriteString("eos_token", config.EosToken);
        w.WriteString("pad_token", config.PadToken);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        w.WriteBoolean("legacy", true);
        if (config.ModelMaxLength is long max)
            w.WriteNumber("model_max_length", max);
        w.WriteNull("unk_token");
        w.WriteString("tokenizer_class", "LlamaTokenizerFast");
        if (config.ChatTemplate is not null)
            w.WriteString("chat_template", config.ChatTemplate);
        w.WriteEndObject();
    }

    private static void WritePreTokenizer(Utf8JsonWriter w, IReadOnlyList<SplitRule> rules)
    {
        w.WriteStartObject("pre_tokenizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        foreach (var rule in rules)
        {
            w.WriteStartObject();
            w.WriteString("type", "Split");
            w.WriteStartObject("pattern");
            w.WriteString("Regex", rule.Pattern);
            w.WriteEndObject();
            w.WriteString("behavior", rule.Behavior.ToString());
            w.WriteBoolean("invert", rule.Invert);
            w.WriteEndObject();
        }
        WriteByteLevel(w, null, addPrefixSpace: false, trimOffsets: true, useRegex: false);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static void WriteByteLevel(Utf8JsonWriter w, string? name, bool addPrefixSpace, bool trimOffsets, bool useRegex)
    {
        if (name is null)
            w.WriteStartObject();
        else
            w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", addPrefixSpace);
        w.WriteBoolean("trim_offsets", trimOffsets);
        w.WriteBoolean("use_regex", useRegex);
        w.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter w, TokenizerDefinition definition)
    {
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", definition.IgnoreMerges);
        w.WriteStartObject("vocab");
        foreach (var (token, id) in definition.Vocab.OrderBy(kv => kv.Value))
            w.WriteNumber(token, id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in definition.Merges)
            w.WriteStringValue(left + " " + right); // byte-level tokens never contain a space (it is "Ġ")
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
