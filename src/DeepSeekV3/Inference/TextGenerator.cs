using DeepSeekV3.Modeling;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Inference;

/// <summary>What a text generation produced: the text (stop string excluded) and the token-level result.</summary>
public sealed record TextResult(string Text, GenerationResult Result);

/// <summary>
/// Text in, text out: encodes the prompt (BOS as the tokenizer's config says), generates with plain or MTP
/// speculative decoding, streams whole UTF-8 characters, and applies stop strings. Chat renders the tokenizer's
/// DeepSeek-V3 chat template with the generation prompt. <c>backend</c>, when given, makes each generation's forward
/// backend (see <see cref="GenerationBatch"/>). Without a LibTorch model (<paramref name="model"/> null), the
/// backend is required and <paramref name="config"/> names the model it runs.
/// </summary>
public sealed class TextGenerator(DeepSeekV3ForCausalLM? model, ByteLevelBpeTokenizer tokenizer, AttentionMode mode = AttentionMode.Absorbed,
    Func<ForwardBackend>? backend = null, Configuration.ModelConfig? config = null)
{
    public ByteLevelBpeTokenizer Tokenizer => tokenizer;

    /// <param name="session">With plain decoding, a conversation's cache kept between calls: only the prompt's tokens
    /// after its longest common prefix with the session are prefilled (speculative decoding keeps its own cache).</param>
    public TextResult Generate(string prompt, SamplingParams sampling, IReadOnlyList<string>? stopStrings = null,
        bool speculative = false, Action<string>? onText = null, PromptCache? session = null) =>
        GenerateFromIds(tokenizer.Encode(prompt, addSpecialTokens: true), sampling, stopStrings, speculative, onText, session);

    /// <inheritdoc cref="Generate" path="/param[@name='session']"/>
    public TextResult Chat(IReadOnlyList<ChatMessage> messages, SamplingParams sampling, IReadOnlyList<string>? stopStrings = null,
        bool speculative = false, Action<string>? onText = null, PromptCache? session = null) =>
        GenerateFromIds(ChatTemplate.Encode(tokenizer, messages), sampling, stopStrings, speculative, onText, session);

    private TextResult GenerateFromIds(int[] prompt, SamplingParams sampling, IReadOnlyList<string>? stopStrings,
        bool speculative, Action<string>? onText, PromptCache? session)
    {
        var stream = new TextStream(tokenizer, stopStrings);
        var text = new System.Text.StringBuilder();
        void Show(string piece)
        {
            if (piece.Length == 0) return;
            text.Append(piece);
            onText?.Invoke(piece);
        }
        bool OnToken(long token)
        {
            Show(stream.Push(token));
            return !stream.Stopped;
        }
        var request = new GenerationRequest(prompt.Select(i => (long)i).ToArray(), sampling);
        var engine = model is not null
            ? new GenerationEngine(model, mode, speculative: speculative, backend: backend)
            : new GenerationEngine(config ?? throw new InvalidOperationException("a TextGenerator without a model needs its config"),
                                   backend ?? throw new InvalidOperationException("a TextGenerator without a model needs a backend"),
                                   speculative: speculative);
        var result = session is not null && !speculative
            ? engine.Generate(request, session, OnToken)
            : engine.Generate([request], (_, token) => OnToken(token))[0];
        Show(stream.Finish());
        return new TextResult(text.ToString(), result);
    }
}
