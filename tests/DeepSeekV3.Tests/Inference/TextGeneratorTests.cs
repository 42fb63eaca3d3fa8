using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Tests.Tokenization;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Inference;

public class TextGeneratorTests
{
    private static ByteLevelBpeTokenizer Tokenizer => TinyTokenizer.Value;

    private static readonly SamplingParams Greedy = new() { MaxTokens = 20, IgnoreEos = true };

    [Fact]
    public void Streamed_text_is_whole_characters_and_equals_the_decoded_tokens()
    {
        using var model = TinyModels.Create();
        var tokenizer = Tokenizer;
        var pieces = new List<string>();
        var output = new TextGenerator(model, tokenizer).Generate("秦川", Greedy, onText: pieces.Add);
        Assert.Equal(tokenizer.Decode(output.Result.Tokens.Select(t => (int)t).ToList(), skipSpecialTokens: true), output.Text);
        Assert.Equal(output.Text, string.Concat(pieces));
        // No piece ends inside a surrogate pair. (A random model may emit byte tokens that are not valid UTF-8;
        // those decode to U+FFFD in the stream exactly as in the full decode, which the equality above checks.)
        Assert.All(pieces, p => Assert.False(char.IsHighSurrogate(p[^1])));
    }

    [Fact]
    public void A_stop_string_ends_generation_and_is_not_in_the_text()
    {
        using var model = TinyModels.Create();
        var generator = new TextGenerator(model, Tokenizer);
        string free = generator.Generate("The jury", Greedy).Text;
        Assert.True(free.Length >= 4, $"need some text to cut: \"{free}\"");
        string stop = free.Substring(free.Length / 2, 2);
        var stopped = generator.Generate("The jury", Greedy, [stop]);
        Assert.Equal(free[..free.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(FinishReason.Stop, stopped.Result.FinishReason);
    }

    [Fact]
    public void Speculative_text_generation_accepts_drafts_and_equals_plain_greedy()
    {
        // The bundled model: its trained MTP module drafts what the main model says often enough to be accepted
        // (a random tiny model's drafts on 512 tokens almost never are, and then only the rejection path runs).
        string dir = BundledModelTests.ModelDirectory();
        using var model = ModelCheckpoint.Load(dir);
        var generator = new TextGenerator(model, ByteLevelBpeTokenizer.Load(dir));
        var plain = generator.Generate("The jury said", Greedy);
        var speculative = generator.Generate("The jury said", Greedy, speculative: true);
        Assert.True(speculative.Result.AcceptedTokens > 0, $"{speculative.Result.AcceptedTokens} of {speculative.Result.DraftedTokens} drafts accepted");
        Assert.True(speculative.Result.DraftedTokens > speculative.Result.AcceptedTokens, "no draft was rejected");
        Assert.Equal(plain.Result.Tokens, speculative.Result.Tokens);
        Assert.Equal(plain.Text, speculative.Text);
    }

    [Fact]
    public void Chat_renders_the_template_and_starts_from_the_assistant_turn()
    {
        using var model = TinyModels.Create();
        var tokenizer = Tokenizer;
        var generator = new TextGenerator(model, tokenizer);
        var messages = new[] { ChatMessage.User("Hi") };
        var chat = generator.Chat(messages, Greedy);
        // The same as generating from the rendered template's ids.
        string rendered = ChatTemplate.Render(messages, addGenerationPrompt: true);
        Assert.EndsWith("<｜Assistant｜>", rendered);
        var ids = tokenizer.Encode(rendered).Select(i => (long)i).ToArray();
        var direct = new GenerationEngine(model).Generate([new GenerationRequest(ids, Greedy)])[0];
        Assert.Equal(direct.Tokens, chat.Result.Tokens);
    }
}
