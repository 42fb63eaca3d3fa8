using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Serving;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Serving;

/// <summary>Prefill/decode separation inside one process: an engine whose prompts are prefilled by separate
/// <see cref="PrefillWorkers"/> produces exactly the tokens, text and log-probabilities of the plain engine (greedy
/// and seeded sampling), and the wire format carries a prefill bit for bit or refuses it with a typed error.</summary>
public class PrefillWorkersTests
{
    private static readonly string[] Prompts =
        ["The jury said that the election", "明月", "Once upon a time, in a city by the river, there lived a", "Hi"];

    private static IEnumerable<TextRequest> Requests(ByteLevelBpeTokenizer tokenizer) => Prompts.SelectMany((text, i) =>
    {
        var ids = tokenizer.Encode(text, addSpecialTokens: true).Select(t => (long)t).ToArray();
        return new[]
        {
            new TextRequest(ids, new SamplingParams { MaxTokens = 12 + i, IgnoreEos = true }),
            new TextRequest(ids, new SamplingParams { MaxTokens = 12, Temperature = 0.9, TopP = 0.95, Seed = 7 + i, Logprobs = 2 }),
            new TextRequest(ids, new SamplingParams { MaxTokens = 1, Temperature = 0.8, Seed = 3 }),   // finished at prefill
        };
    });

    private static async Task<TextResult[]> RunAll(ServingEngine engine, IEnumerable<TextRequest> requests) =>
        await Task.WhenAll(requests.Select(r => engine.Submit(r).Completion));

    [Fact]
    public async Task Separate_prefill_workers_give_exactly_the_plain_engines_output()
    {
        string dir = BundledModelTests.ModelDirectory();
        using var model = ModelCheckpoint.Load(dir);
        var tokenizer = ByteLevelBpeTokenizer.Load(dir);
        var options = new ServingOptions { MaxBatch = 4 };
        TextResult[] plain;
        using (var engine = new ServingEngine(model, tokenizer, options))
            plain = await RunAll(engine, Requests(tokenizer));
        TextResult[] separated;
        long handedOver, bytes;
        using (var workers = new PrefillWorkers(model, workers: 2, maxQueue: 64))
        using (var engine = new ServingEngine(model, tokenizer, options, prefill: workers))
        {
            separated = await RunAll(engine, Requests(tokenizer));
            handedOver = engine.Metrics.PrefillsHandedOver;
            bytes = engine.Metrics.KvTransferBytes;
            Assert.Equal(workers.Prefilled, handedOver);
        }
        Assert.Equal(plain.Length, separated.Length);
        for (int i = 0; i < plain.Length; i++)
        {
            Assert.Equal(plain[i].Result.Tokens, separated[i].Result.Tokens);
            Assert.Equal(plain[i].Text, separated[i].Text);
            Assert.Equal(plain[i].Result.FinishReason, separated[i].Result.FinishReason);
        }
        Assert.Equal(plain.Length, handedOver);
        // Rows per token: every main layer's kv_lora_rank + qk_rope_head_dim elements in the cache dtype; requests that
        // ended at their first token carry none.
        var config = model.Config;
        long rowBytes = config.NumHiddenLayers * (config.KvLoraRank + config.QkRopeHeadDim) *
                        PrefilledRequest.ElementSize(model.LmHead.Weight.dtype);
        long promptTokens = Requests(tokenizer).Where(r => r.Sampling.MaxTokens > 1).Sum(r => r.Prompt.Count);
        Assert.Equal(promptTokens * rowBytes, bytes);
    }

    [Fact]
    public async Task Sampled_logprobs_survive_the_handover()
    {
        string dir = BundledModelTests.ModelDirectory();
        using var model = ModelCheckpoint.Load(dir);
        var tokenizer = ByteLevelBpeTokenizer.Load(dir);
        var request = Requests(tokenizer).First(r => r.Sampling.Logprobs is not null);
        GenerationSequence plain;
        using (var batch = new GenerationBatch(model))
        {
            plain = batch.Add(new GenerationRequest(request.Prompt, request.Sampling));
            while (batch.Step()) { }
        }
        using var workers = new PrefillWorkers(model);
        var prefilled = await workers.PrefillAsync(new GenerationRequest(request.Prompt, request.Sampling), default);
        using var decode = new GenerationBatch(model);
        var continued = decode.Add(new GenerationRequest(request.Prompt, request.Sampling), prefilled);
        while (decode.Step()) { }
        Assert.Equal(plain.Tokens, continued.Tokens);
        Assert.Equal(plain.Logprobs, continued.Logprobs, (a, b) => a.Chosen == b.Chosen && a.Top.SequenceEqual(b.Top));
    }

    [Fact]
    public async Task With_mtp_an_engine_fed_by_prefill_workers_answers_greedy_requests_as_the_plain_engine_does()
    {
        string dir = BundledModelTests.ModelDirectory();
        using var model = ModelCheckpoint.Load(dir);
        var tokenizer = ByteLevelBpeTokenizer.Load(dir);
        var greedy = Requests(tokenizer).Where(r => r.Sampling.IsGreedy).ToList();
        TextResult[] plain;
        using (var engine = new ServingEngine(model, tokenizer, new ServingOptions { MaxBatch = 4 }))
            plain = await RunAll(engine, greedy);
        var speculative = new ServingOptions { MaxBatch = 4, Speculative = true };
        using var workers = new PrefillWorkers(model, workers: 1, speculative: true);
        using (var engine = new ServingEngine(model, tokenizer, speculative, prefill: workers))
        {
            var separated = await RunAll(engine, greedy);
            Assert.Equal(plain.Select(r => r.Result.Tokens), separated.Select(r => r.Result.Tokens));
            Assert.Equal(greedy.Count, engine.Metrics.PrefillsHandedOver);
        }
        // Both sides agree on speculation, or the handover is refused (the server answers 502: a fault between the sides).
        using var plainWorkers = new PrefillWorkers(model, workers: 1);
        using (var mismatched = new ServingEngine(model, tokenizer, speculative, prefill: plainWorkers))
            Assert.Contains("sent no draft", (await Assert.ThrowsAsync<LatentCacheTransferException>(() => mismatched.Submit(greedy[0]).Completion)).Message);
        using var mtpBatch = new GenerationBatch(model, speculative: true);
        var prefilled = await plainWorkers.PrefillAsync(new GenerationRequest(greedy[0].Prompt, greedy[0].Sampling), default);
        Assert.Contains("sent no draft", Assert.Throws<InvalidArgumentException>(() =>
            mtpBatch.Add(new GenerationRequest(greedy[0].Prompt, greedy[0].Sampling), prefilled)).Message);
    }
}
