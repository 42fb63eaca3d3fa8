namespace DeepSeekV3.Modeling;

/// <summary>What the backward pass recomputes instead of keeping from the forward pass: a property of each
/// <see cref="DecoderLayer"/> (<see cref="DeepSeekV3ForCausalLM.SetRecompute"/> sets it for every block).</summary>
public enum RecomputeMode
{
    /// <summary>Keep every activation.</summary>
    None,

    /// <summary>Recompute each block's attention sub-layer — input RMSNorm, MLA down/up-projections and attention —
    /// in backward (the report recomputes "all RMSNorm operations and MLA up-projections", §3.2.3). TorchSharp has
    /// no saved-tensor hooks, so the unit we can drop is the whole sub-layer, a superset of the report's.</summary>
    NormMla,

    /// <summary>Recompute whole decoder blocks (attention and MoE) in backward: only block inputs are kept.</summary>
    Block,
}
