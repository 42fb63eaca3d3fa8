using DeepSeekV3.Configuration;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The state dict of <see cref="DeepSeekV3ForCausalLM"/> worked out from a config alone, in the model's own order
/// (parameters in registration order, which is also the order <see cref="WeightInitializer"/> draws in, then
/// the routers' correction-bias buffers), so that a checkpoint of
/// a model too large to build (a 16B model is 63 GB in f32) can be initialized and written one tensor at a time.
/// The model is the authority: tests compare this list with a built model's state dict.
/// </summary>
public static class ParameterLayout
{
    public static IReadOnlyList<ParameterSpec> For(ModelConfig config)
    {
        var specs = new List<ParameterSpec>();
        var buffers = new List<ParameterSpec>();   // the state dict lists buffers after all parameters
        void Matrix(string name, long rows, long columns) => specs.Add(new(name, [rows, columns], ParameterRole.Matrix));
        void Norm(string name, long size) => specs.Add(new(name, [size], ParameterRole.Norm));
        void SwiGlu(string prefix, long width)
        {
            Matrix(prefix + "gate_proj.weight", width, config.HiddenSize);
            Matrix(prefix + "up_proj.weight", width, config.HiddenSize);
            Matrix(prefix + "down_proj.weight", config.HiddenSize, width);
        }

        long d = config.HiddenSize, heads = config.NumAttentionHeads;
        Matrix("model.embed_tokens.weight", config.VocabSize, d);
        for (int layer = 0; layer < config.NumHiddenLayers + config.NumNextnPredictLayers; layer++)
        {
            string p = $"model.layers.{layer}.";
            Norm(p + "input_layernorm.weight", d);
            if (config.HasQueryCompression)
            {
                int rank = config.QLoraRank!.Value;
                Matrix(p + "self_attn.q_a_proj.weight", rank, d);
                Norm(p + "self_attn.q_a_layernorm.weight", rank);
                Matrix(p + "self_attn.q_b_proj.weight", heads * config.QkHeadDim, rank);
            }
            else
                Matrix(p + "self_attn.q_proj.weight", heads * config.QkHeadDim, d);
            Matrix(p + "self_attn.kv_a_proj_with_mqa.weight", config.KvLoraRank + config.QkRopeHeadDim, d);
            Norm(p + "self_attn.kv_a_layernorm.weight", config.KvLoraRank);
            Matrix(p + "self_attn.kv_b_proj.weight", heads * (config.QkNopeHeadDim + config.VHeadDim), config.KvLoraRank);
            Matrix(p + "self_attn.o_proj.weight", d, heads * config.VHeadDim);
            Norm(p + "post_attention_layernorm.weight", d);
            if (config.IsMoeLayer(layer))
            {
                Matrix(p + "mlp.gate.weight", config.NRoutedExperts, d);
                if (config.UsesCorrectionBias)
                    buffers.Add(new(p + "mlp.gate.e_score_correction_bias", [config.NRoutedExperts], ParameterRole.CorrectionBias));
                for (int e = 0; e < config.NRoutedExperts; e++)
                    SwiGlu($"{p}mlp.experts.{e}.", config.MoeIntermediateSize);
                if (config.NSharedExperts > 0)
                    SwiGlu(p + "mlp.shared_experts.", (long)config.NSharedExperts * config.MoeIntermediateSize);
            }
            else
                SwiGlu(p + "mlp.", config.IntermediateSize);
            if (layer >= config.NumHiddenLayers)
            {
                Norm(p + "enorm.weight", d);
                Norm(p + "hnorm.weight", d);
                Matrix(p + "eh_proj.weight", d, 2 * d);
                Norm(p + "shared_head.norm.weight", d);
            }
        }
        Norm("model.norm.weight", d);
        Matrix("lm_head.weight", config.VocabSize, d);
        specs.AddRange(buffers);
        return specs;
    }

    /// <summary>
    /// The learnable tensors of <paramref name="layout"/> in the order <see cref="WeightInitializer"/> visits them:
    /// TorchSharp's <c>named_modules</c> lists a module's children, then each child's descendants, so a module's
    /// direct children come before its grandchildren (lm_head is drawn before the embedding, an MTP layer's eh_proj
    /// before its attention). Buffers (correction biases) are not drawn and not listed.
    /// </summary>
    public static IReadOnlyList<ParameterSpec> InitializationOrder(IReadOnlyList<ParameterSpec> layout)
    {
        var root = new ModuleNode();
        foreach (var spec in layout.Where(s => s.Role != ParameterRole.CorrectionBias))
        {
            var node = root;
            string[] path = spec.Name.Split('.');
            foreach (string part in path[..^1])
                node = node.Child(part);
            node.Parameters.Add(spec);
        }
        var order = new List<ParameterSpec>(root.Parameters);
        root.AddDescendants(order);
        return order;
    }

    /// <summary>A module of the state-dict tree: children in registration (= first appearance) order.</summary>
    private sealed class ModuleNode
    {
        private readonly List<(string Name, ModuleNode Node)> _children = [];

        public List<ParameterSpec> Parameters { get; } = [];

        public ModuleNode Child(string name)
        {
            foreach (var (childName, node) in _children)
                if (childName == name)
                    return node;
            var child = new ModuleNode();
            _children.Add((name, child));
            return child;
        }

        public void AddDescendants(List<ParameterSpec> order)
        {
            foreach (var (_, child) in _children)
                order.AddRange(child.Parameters);
            foreach (var (_, child) in _children)
                child.AddDescendants(order);
        }
    }
}
