using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Per-layer storage of what absorbed MLA needs from past tokens: the normalized KV latent c_kv
/// [tokens, kv_lora_rank] and the rotated RoPE key k_pe [tokens, qk_rope_head_dim] of each sequence (the "absorb" caches <c>kv_cache</c>/<c>pe_cache</c> of DeepSeek's inference/model.py).
/// </summary>
public interface ILatentKvCache
{
    /// <summary>
    /// The positions [b or 1, s] (int64) that <paramref name="steps"/> new tokens of each sequence take in
    /// <paramref name="layer"/>: they continue where that sequence's entries end. The one source of positions for a
    /// cached forward pass (the fused decoder reads the same lengths).
    /// </summary>
    Tensor Positions(int layer, long steps, Device device);

    /// <summary>
    /// Stores this step's entries for <paramref name="layer"/> (latent [b, s, r_kv], ropeKey [b, s, d_r], at the
    /// <see cref="Positions"/> they were rotated for) and returns every stored entry of the batch's sequences, past
    /// and new.
    /// </summary>
    LatentCacheView Append(int layer, Tensor latent, Tensor ropeKey);
}

/// <summary>
/// All cached keys of a batch: Latent [b, t, r_kv], RopeKey [b, t, d_r], and KeyPositions [b or 1, t], the absolute
/// position of each entry (long.MaxValue for padding when sequences differ in length, so every query masks it).
/// Valid until the end of the caller's dispose scope or the cache's next Append; never dispose them yourself.
/// </summary>
public sealed record LatentCacheView(Tensor Latent, Tensor RopeKey, Tensor KeyPositions);
