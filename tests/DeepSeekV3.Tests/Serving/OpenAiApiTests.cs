using System.ClientModel;
using System.Net;
using System.Text.Json;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Tokenization;
using OpenAI;
using OpenAI.Chat;
using SdkChatMessage = OpenAI.Chat.ChatMessage;

namespace DeepSeekV3.Tests.Serving;

#pragma warning disable OPENAI001   // ChatCompletionOptions.Seed is marked experimental

/// <summary>The server as an OpenAI client sees it: the official .NET SDK against the real server on loopback.
/// Expected texts come from <see cref="TextGenerator"/> in this process (the generation path `dsv3 chat` uses).</summary>
public class OpenAiApiTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const string Question = "Tell me about the jury";

    private static ChatCompletionOptions Greedy(int maxTokens) => new() { Temperature = 0, MaxOutputTokenCount = maxTokens };

    private ChatClient Chat() => server.OpenAi().GetChatClient("default");

    private static TextResult Reference(string question, SamplingParams sampling, IReadOnlyList<string>? stop = null)
    {
        string dir = BundledModelTests.ModelDirectory();
        using var model = ModelCheckpoint.Load(dir);
        return new TextGenerator(model, ByteLevelBpeTokenizer.Load(dir)).Chat([DeepSeekV3.Tokenization.ChatMessage.User(question)], sampling, stop);
    }

    [Fact]
    public async Task Chat_completion_is_the_greedy_reply_with_usage_and_finish_reason()
    {
        ChatCompletion completion = await Chat().CompleteChatAsync([new UserChatMessage(Question)], Greedy(24));
        var expected = Reference(Question, new SamplingParams { MaxTokens = 24 });
        Assert.Equal(expected.Text, completion.Content[0].Text);
        Assert.Equal(expected.Result.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(expected.Result.PromptTokens, completion.Usage.InputTokenCount);
        Assert.Equal(expected.Result.Tokens.Length, completion.Usage.OutputTokenCount);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
        Assert.Equal(0, completion.Usage.InputTokenDetails.CachedTokenCount);
        Assert.Equal("default", completion.Model);
    }

    [Fact]
    public async Task Streamed_chat_is_the_whole_reply_in_pieces_and_ends_with_usage()
    {
        var whole = (await Chat().CompleteChatAsync([new UserChatMessage(Question)], Greedy(30))).Value;
        var pieces = new List<string>();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage(Question)], Greedy(30)))
        {
            pieces.AddRange(update.ContentUpdate.Select(part => part.Text));
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }
        Assert.True(pieces.Count > 1, "the reply came in one piece");
        Assert.Equal(whole.Content[0].Text, string.Concat(pieces));
        Assert.Equal(whole.FinishReason, finish);
        Assert.NotNull(usage);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
    }

    /// <summary>The .NET SDK keeps its legacy completions client internal: /v1/completions is called over HTTP.</summary>
    [Fact]
    public async Task Completions_stop_at_max_tokens_and_count_them()
    {
        var json = await server.PostJson("/v1/completions", new
        {
            model = "default",
            prompt = "The jury said",
            max_tokens = 7,
            temperature = 0,
            ignore_eos = true,
        });
        Assert.Equal("text_completion", json.GetProperty("object").GetString());
        var choice = json.GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(7, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        string dir = BundledModelTests.ModelDirectory();
        using var model = ModelCheckpoint.Load(dir);
        var expected = new TextGenerator(model, ByteLevelBpeTokenizer.Load(dir))
            .Generate("The jury said", new SamplingParams { MaxTokens = 7, IgnoreEos = true });
        Assert.Equal(expected.Text, choice.GetProperty("text").GetString());
        Assert.Equal(expected.Result.PromptTokens, json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task A_stop_string_ends_the_reply_before_it()
    {
        string free = (await Chat().CompleteChatAsync([new UserChatMessage(Question)], Greedy(30))).Value.Content[0].Text;
        Assert.True(free.Length > 8, $"need text to cut: \"{free}\"");
        string stop = free.Substring(free.Length / 2, 3);
        var options = Greedy(30);
        options.StopSequences.Add(stop);
        ChatCompletion stopped = await Chat().CompleteChatAsync([new UserChatMessage(Question)], options);
        Assert.Equal(free[..free.IndexOf(stop, StringComparison.Ordinal)], stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(Reference(Question, new SamplingParams { MaxTokens = 30 }, [stop]).Text, stopped.Content[0].Text);
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_sampled_text_and_another_seed_another()
    {
        ChatCompletionOptions Sampled(long seed) => new() { Temperature = 1.0f, MaxOutputTokenCount = 24, Seed = seed };
        SdkChatMessage[] messages = [new UserChatMessage(Question)];
        string first = (await Chat().CompleteChatAsync(messages, Sampled(7))).Value.Content[0].Text;
        string again = (await Chat().CompleteChatAsync(messages, Sampled(7))).Value.Content[0].Text;
        string other = (await Chat().CompleteChatAsync(messages, Sampled(8))).Value.Content[0].Text;
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);
        // The fields the request leaves out (top_p, repetition_penalty) come from the model's generation_config.json.
        var sampling = GenerationConfig.Load(BundledModelTests.ModelDirectory())!.Over(new SamplingParams()).WithRequested(1.0, null, null, null);
        Assert.Equal(Reference(Question, sampling with { MaxTokens = 24, Seed = 7 }).Text, first);
    }

    [Fact]
    public async Task A_wrong_or_missing_key_gets_401_and_health_needs_none()
    {
        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            server.OpenAi("wrong-key").GetChatClient("default").CompleteChatAsync([new UserChatMessage("Hi")], Greedy(2)));
        Assert.Equal(401, error.Status);
        using var anonymous = new HttpClient { BaseAddress = server.Server.Address };
        using var models = await anonymous.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
        Assert.Contains("invalid_api_key", await models.Content.ReadAsStringAsync());
        using var health = await anonymous.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Logprobs_are_the_model_s_log_probabilities_with_the_greedy_token_on_top()
    {
        var options = Greedy(6);
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;
        ChatCompletion completion = await Chat().CompleteChatAsync([new UserChatMessage(Question)], options);
        Assert.Equal(completion.Usage.OutputTokenCount, completion.ContentTokenLogProbabilities.Count);
        foreach (var token in completion.ContentTokenLogProbabilities)
        {
            Assert.Equal(3, token.TopLogProbabilities.Count);
            Assert.Equal(token.TopLogProbabilities[0].Token, token.Token);     // greedy: the most likely token
            Assert.Equal(token.TopLogProbabilities[0].LogProbability, token.LogProbability);
            Assert.True(token.LogProbability <= 0);
            Assert.True(token.TopLogProbabilities.Zip(token.TopLogProbabilities.Skip(1)).All(p => p.First.LogProbability >= p.Second.LogProbability));
        }
    }

    [Fact]
    public async Task Models_tokenize_and_detokenize_answer_in_vllm_shapes()
    {
        var models = server.OpenAi().GetOpenAIModelClient();
        var list = (await models.GetModelsAsync()).Value;
        Assert.Equal("default", Assert.Single(list).Id);
        var tokens = await server.PostJson("/tokenize", new { prompt = "The jury said" });
        var ids = tokens.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        Assert.Equal(ids.Length, tokens.GetProperty("count").GetInt32());
        Assert.Equal(ByteLevelBpeTokenizer.Load(BundledModelTests.ModelDirectory()).Encode("The jury said", addSpecialTokens: true), ids);
        var text = await server.PostJson("/detokenize", new { tokens = ids.Skip(1) });
        Assert.Equal("The jury said", text.GetProperty("prompt").GetString());
    }

    [Fact]
    public async Task Metrics_count_prompt_and_generated_tokens_under_vllm_names()
    {
        double prompt = await server.Metric("vllm:prompt_tokens_total"), generated = await server.Metric("vllm:generation_tokens_total");
        double requests = await server.Metric("vllm:e2e_request_latency_seconds_count");
        ChatCompletion completion = await Chat().CompleteChatAsync([new UserChatMessage(Question)], Greedy(5));
        // Other tests of this class may run meanwhile only in other classes' servers: this server's counters are ours.
        Assert.Equal(prompt + completion.Usage.InputTokenCount, await server.Metric("vllm:prompt_tokens_total"));
        Assert.Equal(generated + completion.Usage.OutputTokenCount, await server.Metric("vllm:generation_tokens_total"));
        Assert.Equal(requests + 1, await server.Metric("vllm:e2e_request_latency_seconds_count"));
        Assert.Equal(0, await server.Metric("vllm:num_requests_running"));
        Assert.Equal(0, await server.Metric("vllm:kv_cache_usage_perc"));
        string text = await server.Http.GetStringAsync("/metrics");
        foreach (string name in new[] { "vllm:num_requests_waiting", "vllm:time_to_first_token_seconds_bucket", "vllm:inter_token_latency_seconds_sum",
                     "vllm:prefix_cache_queries_total", "vllm:prefix_cache_hits_total", "vllm:spec_decode_num_accepted_tokens_total" })
            Assert.Contains(name + "{", text);
    }
}
