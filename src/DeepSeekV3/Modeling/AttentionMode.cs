namespace DeepSeekV3.Modeling;

/// <summary>The two evaluations of MLA (<c>attn_impl</c> "naive" / "absorb" in DeepSeek's inference/model.py); mathematically identical.</summary>
public enum AttentionMode
{
    /// <summary>Up-project the latent to per-head keys and values, then ordinary attention (what HF does).</summary>
    Naive,

    /// <summary>Absorb W_UK into the query and W_UV into the output; attend over the latent directly (DeepSeek's
    /// default for decoding: the cache holds only c_kv and the rotated RoPE key).</summary>
    Absorbed,
}
