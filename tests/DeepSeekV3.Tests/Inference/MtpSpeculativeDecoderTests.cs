using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Modeling;

namespace DeepSeekV3.Tests.Inference;

public class MtpSpeculativeDecoderTests
{
    // A 6-token vocabulary makes MTP drafts right often enough by chance that both paths (accept, reject) run.
    private static readonly ModelConfig SmallVocab = ModelPresets.Tiny with { VocabSize = 6, EosTokenId = null };

    [Fact]
    public void Speculative_greedy_output_equals_plain_greedy()
    {
        using var model = TinyModels.Create(SmallVocab, seed: 4, std: 0.3);
        int accepted = 0, rejected = 0;
        // Prompt lengths: one fused prefill pass, two of them, and LibTorch's prefill (over 32 tokens).
        int[] lengths = [5, 6, 20, 40];
        for (int seed = 0; seed < lengths.Length; seed++)
        {
            using var promptTensor = TinyModels.Tokens(1, lengths[seed], SmallVocab.VocabSize, seed);
            var request = new GenerationRequest(promptTensor.data<long>().ToArray(), new SamplingParams { MaxTokens = 24 });
            var plain = new GenerationEngine(model).Generate([request])[0];
            var speculative = new MtpSpeculativeDecoder(model).Generate(request);
            Assert.Equal(plain.Tokens, speculative.Tokens);
            Assert.Equal(GreedyDecoder.Generate(model, request.Prompt, 24), speculative.Tokens);   // LibTorch only
            accepted += speculative.AcceptedTokens;
            rejected += speculative.DraftedTokens - speculative.AcceptedTokens;
        }
        Assert.True(accepted > 0 && rejected > 0, $"accepted {accepted}, rejected {rejected}");
    }

    [Fact]
    public void A_model_without_mtp_cannot_speculate()
    {
        using var model = TinyModels.Create(ModelPresets.Tiny with { NumNextnPredictLayers = 0 });
        Assert.Throws<InvalidArgumentException>(() => new MtpSpeculativeDecoder(model));
    }
}
