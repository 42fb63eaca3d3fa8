using DeepSeekV3.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// A Multi-Token Prediction module (report §2.2, eqs. 21-23), stored as <c>model.layers.{L+k}</c> like
/// V3's layer 61: a full decoder block plus enorm, hnorm, eh_proj and shared_head.norm.
/// h' = eh_proj([enorm(Emb(t_{i+k})) ; hnorm(h_i^{k-1})]) — EMBEDDING FIRST, the order of the released weights
/// (docs/reference-notes.md#mtp-input-order) — then the block, then the shared output head after shared_head.norm.
/// The embedding and the head are the main model's (shared, as the report says); the checkpoint's copies under
/// this prefix (embed_tokens, shared_head.head) are written and read by the checkpoint code, not held twice here.
/// </summary>
public sealed class MtpLayer : DecoderLayer
{
    public MtpLayer(ModelConfig config, int layer, YarnRotaryEmbedding rope) : base(config, layer, rope)
    {
        Depth = layer - config.NumHiddenLayers + 1;
        ENorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        HNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        EhProj = new Projection(2L * config.HiddenSize, config.HiddenSize);
        SharedHead = new MtpSharedHead(config);
        register_module("enorm", ENorm);
        register_module("hnorm", HNorm);
        register_module("eh_proj", EhProj);
        register_module("shared_head", SharedHead);
    }

    /// <summary>k in the paper: this module predicts the token k + 1 positions ahead.</summary>
    public int Depth { get; }
    public RmsNorm ENorm { get; }
    public RmsNorm HNorm { get; }
    public Projection EhProj { get; }
    public MtpSharedHead SharedHead { get; }

    /// <summary>
    /// previous: h^{k-1} [batch, s, hidden]; embeddings: Emb(t_{i+k}) for the same positions [batch, s, hidden].
    /// Returns h^k [batch, s, hidden] (before shared_head.norm).
    /// </summary>
    public Tensor Forward(Tensor previous, Tensor embeddings, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        var combined = EhProj.forward(cat([ENorm.forward(embeddings), HNorm.forward(previous)], -1));  // eq. (21)
        return Forward(combined, context).MoveToOuterDisposeScope();                                    // eq. (22)
    }
}
