using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Modeling;

namespace DeepSeekV3.Tests.Inference;

/// <summary>Chunked prefill: a prompt that goes in a chunk per step gives the tokens and log-probabilities of the
/// whole-prompt prefill, and the running sequences keep emitting a token per step while it goes in.</summary>
public class ChunkedPrefillTests
{
    [Theory]
    [InlineData(false, 8)]
    [InlineData(true, 8)]
    [InlineData(true, 5)]
    public void A_prompt_prefilled_in_chunks_generates_what_the_whole_prompt_prefill_generates(bool fused, int chunk)
    {
        using var model = TinyModels.Create();
        var request = new GenerationRequest(TinyModels.Prompt(37, 4), new SamplingParams { MaxTokens = 8, IgnoreEos = true, Logprobs = 3 });
        using var whole = new GenerationBatch(model, blockSize: 4, fused: fused);
        var expected = whole.Add(request);
        while (whole.Step()) { }

        using var chunked = new GenerationBatch(model, blockSize: 4, fused: fused, prefillChunk: chunk);
        var sequence = chunked.Add(request);
        int steps = 0;
        while (chunked.Prefilling.Count > 0)
        {
            Assert.Empty(sequence.Tokens);
            chunked.Step();
            steps++;
        }
        Assert.Equal((37 + chunk - 1) / chunk - 1, steps);            // the first chunk went in with Add
        while (chunked.Step()) { }
        Assert.Equal(expected.Tokens, sequence.Tokens);
        for (int i = 0; i < expected.Logprobs.Count; i++)
        {
            Assert.Equal(expected.Logprobs[i].Chosen.Logprob, sequence.Logprobs[i].Chosen.Logprob, 4);
            Assert.Equal(expected.Logprobs[i].Top.Select(t => t.Token), sequence.Logprobs[i].Top.Select(t => t.Token));
        }
    }

    [Fact]
    public void Running_sequences_emit_a_token_every_step_while_a_long_prompt_goes_in_and_match_their_solo_run()
    {
        using var model = TinyModels.Create();
        var sampled = new SamplingParams { MaxTokens = 12, IgnoreEos = true, Temperature = 0.8 };
        var shortRequest = new GenerationRequest(TinyModels.Prompt(6, 1), sampled with { Seed = 3 });
        var longRequest = new GenerationRequest(TinyModels.Prompt(40, 2), sampled with { Seed = 4 });
        var alone = new[] { shortRequest, longRequest }.Select(r => new GenerationEngine(model).Generate([r])[0].Tokens).ToList();

        using var batch = new GenerationBatch(model, blockSize: 4, prefillChunk: 8);
        var running = batch.Add(shortRequest);
        var joining = batch.Add(longRequest);
        for (int step = 1; step <= 4; step++)
        {
            Assert.Single(batch.Prefilling);
            batch.Step();
            Assert.Equal(1 + step, running.Tokens.Count);             // never stalled by the 40-token prompt
        }
        Assert.Empty(batch.Prefilling);
        Assert.Single(joining.Tokens);                                // its first token came with its last chunk
        while (batch.Step()) { }
        Assert.Equal(alone[0], running.Tokens);
        Assert.Equal(alone[1], joining.Tokens);
    }

    [Fact]
    public void A_cancelled_request_leaves_while_its_prompt_is_still_going_in()
    {
        using var model = TinyModels.Create();
        using var batch = new GenerationBatch(model, blockSize: 4, prefillChunk: 4);
        var sequence = batch.Add(new GenerationRequest(TinyModels.Prompt(20, 5), new SamplingParams { MaxTokens = 3 }));
        Assert.True(batch.CacheBlocksInUse > 0);
        batch.Cancel(sequence);
        Assert.Empty(batch.Prefilling);
        Assert.Equal(0, batch.CacheBlocksInUse);
        Assert.False(batch.Step());
        Assert.Equal(FinishReason.Cancelled, sequence.Finished);
    }
}
