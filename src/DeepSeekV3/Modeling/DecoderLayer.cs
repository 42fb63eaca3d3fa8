using DeepSeekV3.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// One pre-norm transformer block (report Figure 2; <c>Block</c> in DeepSeek's inference/model.py): h += MLA(RMSNorm(h)); h += FFN(RMSNorm(h)), where FFN is a dense
/// SwiGLU for the first first_k_dense_replace layers and DeepSeekMoE after. Checkpoint prefix
/// <c>model.layers.{i}</c>: input_layernorm, self_attn, post_attention_layernorm, mlp.
/// </summary>
public class DecoderLayer : nn.Module
{
    // Submodules are registered under their checkpoint names in the constructor; TorchSharp's reflection-based
    // registration would register them a second time under C# backing-field names.
    protected override void RegisterComponents() { }

    public DecoderLayer(ModelConfig config, int layer, YarnRotaryEmbedding rope) : base(nameof(DecoderLayer))
    {
        Index = layer;
        InputLayerNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        SelfAttn = new MultiHeadLatentAttention(config, layer, rope);
        PostAttentionLayerNorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        register_module("input_layernorm", InputLayerNorm);
        register_module("self_attn", SelfAttn);
        register_module("post_attention_layernorm", PostAttentionLayerNorm);
        if (UsesMoe(config, layer))
        {
            Moe = new MixtureOfExperts(config, layer);
            register_module("mlp", Moe);
        }
        else
        {
            DenseMlp = new SwiGluMlp(config.HiddenSize, config.IntermediateSize);
            register_module("mlp", DenseMlp);
        }
    }

    /// <summary>Whether block <paramref name="layer"/>'s FFN is DeepSeekMoE (else the dense SwiGLU). MTP blocks (index ≥
    /// num_hidden_layers) use MoE whenever the model has routed experts, as V3's layer 61 does.</summary>
    public static bool UsesMoe(ModelConfig config, int layer) =>
        layer < config.NumHiddenLayers ? config.IsMoeLayer(layer) : config.NRoutedExperts > 0;

    /// <summary>Position in <c>model.layers</c>; also this block's slot in a KV cache.</summary>
    public int Index { get; }
    public RmsNorm InputLayerNorm { get; }
    public MultiHeadLatentAttention SelfAttn { get; }
    public RmsNorm PostAttentionLayerNorm { get; }
    public MixtureOfExperts? Moe { get; }
    public SwiGluMlp? DenseMlp { get; }

    /// <summary>What backward recomputes instead of keeping (applies only while autograd records).</summary>
    public RecomputeMode Recompute { get; set; } = RecomputeMode.None;

    /// <summary>h: [batch, seq, hidden] → [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor h, ForwardContext context) =>
        Recompute == RecomputeMode.Block
            ? new RecomputedSegment(Block, context.RoutingLoss).Apply(h, context)
            : Block(h, context);

    private Tensor Block(Tensor h, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        h = h + (Recompute == RecomputeMode.NormMla
            ? new RecomputedSegment(Attention, null).Apply(h, context)
            : Attention(h, context));
        var normed = PostAttentionLayerNorm.forward(h);
        h = h + (Moe is not null ? Moe.Forward(normed, context) : DenseMlp!.forward(normed));
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>MLA(RMSNorm(h)), the attention sub-layer's residual branch.</summary>
    private Tensor Attention(Tensor h, ForwardContext context) => SelfAttn.Forward(InputLayerNorm.forward(h), context);
}
