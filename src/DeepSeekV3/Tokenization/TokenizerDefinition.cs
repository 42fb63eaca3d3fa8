namespace DeepSeekV3.Tokenization;

/// <summary>
/// The parts of an HF byte-level BPE tokenizer.json this port uses: the BPE vocabulary and merges, the added tokens
/// and the pre-tokenizer's split rules (the ByteLevel step itself is implicit: every piece is encoded as UTF-8 bytes).
/// </summary>
public sealed record TokenizerDefinition(
    IReadOnlyDictionary<string, int> Vocab,
    IReadOnlyList<(string Left, string Right)> Merges,
    IReadOnlyList<AddedToken> AddedTokens,
    IReadOnlyList<SplitRule> SplitRules,
    bool IgnoreMerges = false);
