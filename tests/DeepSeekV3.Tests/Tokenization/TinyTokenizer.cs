using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

/// <summary>A 512-token byte-level BPE trained on mixed English/Chinese text, matching the tiny model's vocabulary,
/// with DeepSeek-V3's special tokens (so the chat template encodes).</summary>
internal static class TinyTokenizer
{
    private static readonly Lazy<(TokenizerDefinition Definition, TokenizerConfig Config)> Trained = new(() =>
    {
        var trainer = new BpeTrainer(new BpeTrainerOptions(VocabSize: 512));
        trainer.AddText(string.Concat(Enumerable.Repeat("The jury said the election was conducted well. 秦川雄帝宅，函谷壯皇居。\n", 40)));
        return trainer.Train();
    });

    private static readonly Lazy<ByteLevelBpeTokenizer> Shared = new(() => new ByteLevelBpeTokenizer(Trained.Value.Definition, Trained.Value.Config));

    public static ByteLevelBpeTokenizer Value => Shared.Value;

    /// <summary>Writes tokenizer.json and tokenizer_config.json into <paramref name="directory"/> (a model directory).</summary>
    public static void WriteTo(string directory)
    {
        TokenizerJsonWriter.WriteTokenizerJson(Trained.Value.Definition, Path.Combine(directory, "tokenizer.json"));
        TokenizerJsonWriter.WriteTokenizerConfig(Trained.Value.Config, Path.Combine(directory, "tokenizer_config.json"));
    }
}
