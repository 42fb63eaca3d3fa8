using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Inference;

/// <summary>
/// The text of a stream of generated tokens as it comes: whole UTF-8 characters (<see cref="StreamingDecoder"/>,
/// special tokens skipped) with stop strings applied (<see cref="StopStringMatcher"/>: text that may begin one is
/// held back, the stop string itself is never shown). The concatenation of every <see cref="Push"/> and
/// <see cref="Finish"/> is the reply.
/// </summary>
public sealed class TextStream(ByteLevelBpeTokenizer tokenizer, IReadOnlyList<string>? stopStrings = null)
{
    private readonly StreamingDecoder _decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens: true);
    private readonly StopStringMatcher _matcher = new(stopStrings ?? []);

    /// <summary>A stop string matched: generation should end here.</summary>
    public bool Stopped => _matcher.Stopped;

    /// <summary>Adds a token; returns the text that may be shown now (possibly empty).</summary>
    public string Push(long token) => _matcher.Push(_decoder.Push((int)token));

    /// <summary>The end of generation: whatever was held back (nothing after a stop string).</summary>
    public string Finish() => Stopped ? "" : _matcher.Push(_decoder.Flush()) + _matcher.Flush();
}
