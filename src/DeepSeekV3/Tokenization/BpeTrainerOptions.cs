namespace DeepSeekV3.Tokenization;

/// <summary>Settings of <see cref="BpeTrainer"/>.</summary>
/// <param name="VocabSize">Total ids including the 3 special tokens, 256 bytes and the 15 added tokens.</param>
/// <param name="MinFrequency">Pairs seen fewer times than this are never merged; training stops there.</param>
/// <param name="SplitRules">Pre-tokenizer; null means DeepSeek-V3's three regexes.</param>
public sealed record BpeTrainerOptions(int VocabSize, int MinFrequency = 2, IReadOnlyList<SplitRule>? SplitRules = null);
