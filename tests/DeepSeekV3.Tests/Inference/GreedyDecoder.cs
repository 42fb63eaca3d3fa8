using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

/// <summary>
/// The plainest generation loop, kept as a test reference for <see cref="DeepSeekV3.Inference.GenerationEngine"/>:
/// one prefill over the prompt, then one decode step per token through the simple contiguous latent cache, always
/// taking the most likely token; stops at the config's EOS.
/// </summary>
internal static class GreedyDecoder
{
    public static long[] Generate(DeepSeekV3ForCausalLM model, IReadOnlyList<long> prompt, int maxNewTokens,
        AttentionMode mode = AttentionMode.Absorbed)
    {
        var device = model.LmHead.Weight.device;
        using var cache = new ContiguousLatentCache(model.Config.NumHiddenLayers);
        using var _ = no_grad();
        var generated = new List<long>();
        long[] input = prompt.ToArray();
        long position = 0;
        for (int step = 0; step < maxNewTokens; step++)
        {
            using var scope = NewDisposeScope();
            var tokens = tensor(input, device: device).unsqueeze(0);                           // [1, new tokens]
            using var output = model.Forward(tokens, new ForwardContext { Mode = mode, Cache = cache });
            position += input.Length;
            long next = output.Logits[0, -1].argmax().item<long>();
            generated.Add(next);
            if (next == model.Config.EosTokenId) break;
            input = [next];
        }
        return generated.ToArray();
    }
}
