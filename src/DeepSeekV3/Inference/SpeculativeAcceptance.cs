using DeepSeekV3.Modeling;

namespace DeepSeekV3.Inference;

/// <summary>
/// How often MTP speculative decoding's drafts are accepted on a set of prompts: each prompt generates
/// <c>newTokens</c> tokens (EOS ignored, so every prompt contributes the same length) with
/// <see cref="MtpSpeculativeDecoder"/>, prompt i seeded with i; the rate is accepted ÷ drafted over all of them.
/// </summary>
public static class SpeculativeAcceptance
{
    public static (int Drafted, int Accepted, double Rate) Measure(DeepSeekV3ForCausalLM model, IReadOnlyList<long[]> prompts,
        int newTokens, double temperature)
    {
        if (prompts.Count == 0)
            throw new InvalidArgumentException("speculative acceptance: no prompts");
        int drafted = 0, accepted = 0;
        for (int i = 0; i < prompts.Count; i++)
        {
            var sampling = new SamplingParams { MaxTokens = newTokens, Temperature = temperature, Seed = i, IgnoreEos = true }.Validated();
            var result = new MtpSpeculativeDecoder(model).Generate(new GenerationRequest(prompts[i], sampling));
            drafted += result.DraftedTokens;
            accepted += result.AcceptedTokens;
        }
        return (drafted, accepted, drafted == 0 ? 0 : (double)accepted / drafted);
    }
}
