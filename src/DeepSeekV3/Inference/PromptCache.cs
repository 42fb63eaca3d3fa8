using DeepSeekV3.Modeling;

namespace DeepSeekV3.Inference;

/// <summary>
/// One conversation's latent cache kept between requests, so a prompt that extends an earlier one (the next chat
/// turn) prefills only its new tokens, as vLLM's prefix caching and llama.cpp's kept context do. It remembers the
/// tokens whose entries it holds; <see cref="GenerationBatch.Add"/>
/// keeps the longest common prefix with the next prompt and drops the rest. One owner at a time, like the cache.
/// </summary>
public sealed class PromptCache : IDisposable
{
    public PromptCache(DeepSeekV3ForCausalLM model, int blockSize = 64)
        : this(model.Config, model.LmHead.Weight.dtype, model.LmHead.Weight.device, blockSize)
    {
    }

    /// <summary>A cache of <paramref name="dtype"/> on <paramref name="device"/>, as the generating backend's
    /// <see cref="ForwardBackend.CacheType"/>.</summary>
    public PromptCache(Configuration.ModelConfig config, TorchSharp.torch.ScalarType dtype, TorchSharp.torch.Device device, int blockSize = 64)
    {
        Cache = new PagedLatentCache(config, config.NumHiddenLayers, dtype, device, blockSize);
        SequenceId = Cache.AddSequence();
    }

    internal PagedLatentCache Cache { get; }
    internal int SequenceId { get; }

    /// <summary>The tokens whose cache entries are held, in order.</summary>
    internal List<long> Tokens { get; } = [];

    /// <summary>Tokens held.</summary>
    public int Length => Tokens.Count;

    /// <summary>
    /// Keeps the entries of the prompt's longest common prefix with the tokens held (all but the prompt's last token at
    /// most, whose logits the request needs) and forgets the rest. Returns the prefix length: the tokens not prefilled again.
    /// </summary>
    internal int Reuse(IReadOnlyList<long> prompt)
    {
        int reused = 0, limit = Math.Min(Tokens.Count, prompt.Count - 1);
        while (reused < limit && Tokens[reused] == prompt[reused]) reused++;
        KeepPrefix(reused);
        return reused;
    }

    /// <summary>Records tokens whose entries a finished request appended.</summary>
    internal void Hold(IEnumerable<long> tokens) => Tokens.AddRange(tokens);

    /// <summary>Keeps the first <paramref name="length"/> tokens' entries and forgets the rest.</summary>
    internal void KeepPrefix(int length)
    {
        Cache.Truncate(SequenceId, length);
        Tokens.RemoveRange(length, Tokens.Count - length);
    }

    /// <summary>Forgets everything (a new conversation).</summary>
    public void Clear() => KeepPrefix(0);

    public void Dispose() => Cache.Dispose();
}
