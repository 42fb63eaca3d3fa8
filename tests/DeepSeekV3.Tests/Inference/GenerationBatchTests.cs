using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Modeling;

namespace DeepSeekV3.Tests.Inference;

/// <summary>The generation loop as a server drives it: requests join a running batch and leave it at token boundaries.</summary>
public class GenerationBatchTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Requests_joining_a_running_batch_generate_what_they_generate_alone(bool fused, bool speculative)
    {
        using var model = TinyModels.Create();
        var sampled = new SamplingParams { MaxTokens = 9, IgnoreEos = true, Temperature = 0.8, Seed = 5 };
        var requests = new[] { (5, 0), (12, 1), (37, 2) }
            .Select(p => new GenerationRequest(TinyModels.Prompt(p.Item1, p.Item2), sampled with { Seed = p.Item2 + 11 }))
            .ToList();
        var alone = requests.Select(r => new GenerationEngine(model, fused: fused, speculative: speculative).Generate([r])[0]).ToList();

        using var batch = new GenerationBatch(model, blockSize: 4, fused: fused, speculative: speculative);
        var first = batch.Add(requests[0]);
        batch.Step();
        batch.Step();
        var second = batch.Add(requests[1]);                 // joins after two steps
        batch.Step();
        var third = batch.Add(requests[2]);
        int steps = 0;
        while (batch.Step()) steps++;
        Assert.True(steps > 0);
        Assert.Empty(batch.Running);                         // every finished request left
        var joined = new[] { first, second, third };
        for (int i = 0; i < requests.Count; i++)
        {
            Assert.Equal(alone[i].Tokens, joined[i].Result().Tokens);
            Assert.Equal(FinishReason.Length, joined[i].Finished);
        }
    }

    [Fact]
    public void A_request_that_stops_leaves_the_batch_while_the_others_go_on()
    {
        using var model = TinyModels.Create();
        using var batch = new GenerationBatch(model);
        var shortRequest = batch.Add(new GenerationRequest(TinyModels.Prompt(4, 3), new SamplingParams { MaxTokens = 2, IgnoreEos = true }));
        var longRequest = batch.Add(new GenerationRequest(TinyModels.Prompt(6, 4), new SamplingParams { MaxTokens = 6, IgnoreEos = true }));
        batch.Step();
        Assert.Equal(FinishReason.Length, shortRequest.Finished);
        Assert.Equal([longRequest], batch.Running);
        while (batch.Step()) { }
        Assert.Equal(2, shortRequest.Tokens.Count);
        Assert.Equal(6, longRequest.Tokens.Count);
    }

    [Fact]
    public void Speculative_decoding_refuses_a_conversation_cache()
    {
        using var model = TinyModels.Create();
        using var session = new PromptCache(model);
        using var batch = new GenerationBatch(model, speculative: true);
        var e = Assert.Throws<InvalidArgumentException>(() =>
            batch.Add(new GenerationRequest(TinyModels.Prompt(4, 1), new SamplingParams { MaxTokens = 3 }), session: session));
        Assert.Contains("own cache", e.Message);
    }
}
