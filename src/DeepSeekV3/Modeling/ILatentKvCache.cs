using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Per-layer storage of what absorbed MLA needs from past tokens: the normalized KV latent c_kv
/// [batch, tokens, kv_lora_rank] and the rotated RoPE key k_pe [batch, tokens, qk_rope_head_dim] (spec B.6.3).
/// </summary>
public interface ILatentKvCache
{
    /// <summary>Tokens already stored for <paramref name="layer"/>.</summary>
    long Length(int layer);

    /// <summary>
    /// Appends this step's entries for <paramref name="layer"/> and returns every stored entry, past and new.
    /// The returned tensors belong to the cache (valid until the next call for that layer or disposal): do not
    /// dispose them.
    /// </summary>
    (Tensor Latent, Tensor RopeKey) Append(int layer, Tensor latent, Tensor ropeKey);
}
