namespace DeepSeekV3.Tokenization;

/// <summary>
/// Fill-in-the-middle token ids. DeepSeek's FIM training samples are laid out prefix-suffix-middle:
/// <c>&lt;｜fim▁begin｜&gt;prefix&lt;｜fim▁hole｜&gt;suffix&lt;｜fim▁end｜&gt;middle</c>.
/// </summary>
public sealed record FimTokens(int Begin, int Hole, int End)
{
    public const string BeginToken = "<｜fim▁begin｜>";
    public const string HoleToken = "<｜fim▁hole｜>";
    public const string EndToken = "<｜fim▁end｜>";

    /// <summary>The FIM ids of a tokenizer, or null when its vocabulary lacks any of the three tokens.</summary>
    public static FimTokens? TryFind(ByteLevelBpeTokenizer tokenizer) =>
        tokenizer.TokenToId(BeginToken) is int begin && tokenizer.TokenToId(HoleToken) is int hole
            && tokenizer.TokenToId(EndToken) is int end
            ? new FimTokens(begin, hole, end)
            : null;
}
