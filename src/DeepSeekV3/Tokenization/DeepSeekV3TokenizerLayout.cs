namespace DeepSeekV3.Tokenization;

/// <summary>
/// The fixed parts of DeepSeek-V3's tokenizer that our own trained tokenizers copy: the three split regexes of its
/// pre-tokenizer and its special and added tokens (BOS/EOS/PAD, FIM, chat roles, tool markers).
/// </summary>
public static class DeepSeekV3TokenizerLayout
{
    public const string BosToken = "<｜begin▁of▁sentence｜>";
    public const string EosToken = "<｜end▁of▁sentence｜>";
    public const string PadToken = "<｜▁pad▁｜>";

    /// <summary>
    /// Digits in groups of up to three; runs of CJK ideographs and kana; then a GPT-style rule where a punctuation
    /// mark may lead a word, letters take one leading non-letter (a space), and whitespace before a word stays apart.
    /// </summary>
    public static IReadOnlyList<SplitRule> SplitRules { get; } =
    [
        new(@"\p{N}{1,3}", SplitBehavior.Isolated),
        new("[一-龥\u3040-ゟ゠-ヿ]+", SplitBehavior.Isolated),
        new("[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+",
            SplitBehavior.Isolated),
    ];

    /// <summary>Special tokens (dropped by skipSpecialTokens), in id order 0, 1, 2 as in DeepSeek-V3.</summary>
    public static IReadOnlyList<string> SpecialTokens { get; } = [BosToken, EosToken, PadToken];

    /// <summary>Added but not special tokens, in DeepSeek-V3's order (its ids 128800–128814).</summary>
    public static IReadOnlyList<string> NonSpecialAddedTokens { get; } =
    [
        FimTokens.HoleToken, FimTokens.BeginToken, FimTokens.EndToken, "<｜User｜>", "<｜Assistant｜>", "<|EOT|>",
        "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
        "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>", "<｜tool▁sep｜>",
    ];
}
