using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Objectives;

/// <summary>
/// The model's forward pass as training runs it: the same modules in the same order as
/// <see cref="DeepSeekV3ForCausalLM.Forward"/> and <see cref="DeepSeekV3ForCausalLM.ForwardMtp"/>, with blocks or
/// attention sub-layers optionally wrapped in <see cref="RecomputedSegment"/>. With <see cref="RecomputeMode.None"/>
/// it calls the model's own forward.
/// </summary>
public sealed class TrainingForward
{
    private readonly DeepSeekV3ForCausalLM _model;
    private readonly RecomputeMode _mode;
    private readonly Func<RoutingTrace, Tensor?>? _balanceTerm;

    /// <param name="balanceTerm">The (already weighted) balance loss of the routers in a trace; recomputed segments
    /// back-propagate it themselves (see <see cref="RecomputedSegment"/>).</param>
    public TrainingForward(DeepSeekV3ForCausalLM model, RecomputeMode mode, Func<RoutingTrace, Tensor?>? balanceTerm)
    {
        _model = model;
        _mode = mode;
        _balanceTerm = balanceTerm;
    }

    /// <summary>tokens [b, s] → logits [b, s, V] and final hidden state [b, s, D] (after the final norm).</summary>
    public ModelOutput Main(Tensor tokens, ForwardContext context)
    {
        if (_mode == RecomputeMode.None)
            return _model.Forward(tokens, context);
        using var scope = NewDisposeScope();
        var body = _model.Model;
        var h = body.EmbedTokens.forward(tokens);                                         // [b, s, D]
        for (int i = 0; i < body.Config.NumHiddenLayers; i++)
            h = Block(body.Layers[i], h, context);
        var hidden = body.Norm.forward(h);
        var logits = _model.LmHead.forward(hidden);                                       // [b, s, V]
        return new ModelOutput(logits.MoveToOuterDisposeScope(), hidden.MoveToOuterDisposeScope());
    }

    /// <summary>MTP module <paramref name="depth"/>: previous h^{k-1} [b, s', D], nextTokens t_{i+k} [b, s'] →
    /// logits predicting t_{i+k+1} and h^k.</summary>
    public ModelOutput Mtp(int depth, Tensor previous, Tensor nextTokens, ForwardContext context)
    {
        if (_mode == RecomputeMode.None)
            return _model.ForwardMtp(depth, previous, nextTokens, context);
        using var scope = NewDisposeScope();
        var module = _model.Model.MtpLayers.ElementAt(depth - 1);
        var embeddings = _model.Model.EmbedTokens.forward(nextTokens);
        var combined = module.EhProj.forward(cat([module.ENorm.forward(embeddings), module.HNorm.forward(previous)], -1));
        var h = Block(module, combined, context);                                         // eq. (22)
        var logits = _model.LmHead.forward(module.SharedHead.Norm.forward(h));            // eq. (23)
        return new ModelOutput(logits.MoveToOuterDisposeScope(), h.MoveToOuterDisposeScope());
    }

    private Tensor Block(DecoderLayer layer, Tensor h, ForwardContext context)
    {
        if (_mode == RecomputeMode.Block)
            return new RecomputedSegment((x, c) => layer.Forward(x, c), _balanceTerm).Apply(h, context);

        // NormMla: the attention sub-layer is recomputed; the FFN keeps its activations (same steps as DecoderLayer).
        var attention = new RecomputedSegment((x, c) => layer.SelfAttn.Forward(layer.InputLayerNorm.forward(x), c), null);
        h = h + attention.Apply(h, context);
        var normed = layer.PostAttentionLayerNorm.forward(h);
        return h + (layer.Moe is not null ? layer.Moe.Forward(normed, context) : layer.DenseMlp!.forward(normed));
    }
}
