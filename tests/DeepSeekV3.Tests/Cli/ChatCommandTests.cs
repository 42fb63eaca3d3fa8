using System.Text.RegularExpressions;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Cli;
using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Tokenization;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Cli;

public class ChatCommandTests
{
    private static readonly SamplingParams Greedy = new() { MaxTokens = 8 };

    [Fact]
    public void Chat_reuses_the_conversation_cache_replies_as_a_fresh_generation_and_reuses_nothing_after_reset()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, CliApp.Run(["init", "--preset", "tiny", "--seed", "3", "--dtype", "f32", "--out", dir.Path], new StringWriter(), new StringWriter()));
        TinyTokenizer.WriteTo(dir.Path);
        string first = "The jury said", second = "秦川雄帝宅";
        var output = new StringWriter();
        var error = new StringWriter();
        var input = new StringReader(string.Join("\n", first, second, "/reset", first) + "\n");
        // An explicit temperature 0: plain greedy decoding (chat samples by default).
        int code = CliApp.Run(["chat", "--model", dir.Path, "--max-tokens", $"{Greedy.MaxTokens}", "--temperature", "0"], output, error, input);
        Assert.True(code == 0, error.ToString());

        // What each turn should say: a fresh generation (no cache) of the whole conversation so far.
        using var model = ModelCheckpoint.Load(dir.Path);
        var tokenizer = ByteLevelBpeTokenizer.Load(dir.Path);
        var generator = new TextGenerator(model, tokenizer);
        var firstTurn = new List<ChatMessage> { ChatMessage.User(first) };
        var firstReply = generator.Chat(firstTurn, Greedy);
        var secondTurn = new List<ChatMessage>([.. firstTurn, ChatMessage.Assistant(firstReply.Text), ChatMessage.User(second)]);
        var secondReply = generator.Chat(secondTurn, Greedy);
        string n = Environment.NewLine;
        Assert.Equal($"you> assistant> {firstReply.Text}{n}you> assistant> {secondReply.Text}{n}you> you> assistant> {firstReply.Text}{n}you> ",
            output.ToString());

        // The second prompt extends the first exchange: the cache held the first prompt and the first reply's tokens
        // but the last (never fed back), and the second turn reuses their common prefix with its prompt.
        long[] Prompt(List<ChatMessage> messages) =>
            tokenizer.Encode(ChatTemplate.Render(messages, addGenerationPrompt: true)).Select(i => (long)i).ToArray();
        long[] held = [.. Prompt(firstTurn), .. firstReply.Result.Tokens[..^1]], secondPrompt = Prompt(secondTurn);
        int common = held.Zip(secondPrompt).TakeWhile(pair => pair.First == pair.Second).Count();
        Assert.True(common >= Prompt(firstTurn).Length, $"the second prompt shares only {common} tokens with the first exchange");

        var stats = Regex.Matches(error.ToString(), @"\[(\d+) tokens; (\d+) of the (\d+)-token prompt reused").ToList();
        Assert.Equal(3, stats.Count);
        (int Tokens, int Cached, int Prompt) Turn(int i) =>
            (int.Parse(stats[i].Groups[1].Value), int.Parse(stats[i].Groups[2].Value), int.Parse(stats[i].Groups[3].Value));
        Assert.Equal((firstReply.Result.Tokens.Length, 0, Prompt(firstTurn).Length), Turn(0));
        Assert.Equal((secondReply.Result.Tokens.Length, Math.Min(common, secondPrompt.Length - 1), secondPrompt.Length), Turn(1));
        Assert.Equal((firstReply.Result.Tokens.Length, 0, Prompt(firstTurn).Length), Turn(2));   // after /reset
    }
}
