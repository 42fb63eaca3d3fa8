using DeepSeekV3.Configuration;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// DeepSeekMoE layer (report eqs. 12-15): h' = Σ shared experts(u) + Σ_i g_i · expert_i(u), with
/// fine-grained routed experts chosen by <see cref="Router"/>. Tokens are grouped by expert (one sort), so each expert
/// runs one batched GEMM over exactly its tokens; no per-token loop, no token dropping. Weighted expert outputs
/// are accumulated in fp32 and cast once (HF's order; docs/reference-notes.md#moe-combine-order).
/// Checkpoint names: gate, experts.{i}, shared_experts.
/// </summary>
public sealed class MixtureOfExperts : nn.Module
{
    // Submodules are registered under their checkpoint names in the constructor; TorchSharp's reflection-based
    // registration would register them a second time under C# backing-field names.
    protected override void RegisterComponents() { }

    private readonly int _layer;
    private readonly int _topK;

    public MixtureOfExperts(ModelConfig config, int layer) : base(nameof(MixtureOfExperts))
    {
        _layer = layer;
        _topK = config.NumExpertsPerTok;
        Gate = new Router(config);
        Experts = nn.ModuleList(Enumerable.Range(0, config.NRoutedExperts)
            .Select(_ => new SwiGluMlp(config.HiddenSize, config.MoeIntermediateSize)).ToArray());
        register_module("gate", Gate);
        register_module("experts", Experts);
        if (config.NSharedExperts > 0)
        {
            SharedExperts = new SwiGluMlp(config.HiddenSize, (long)config.NSharedExperts * config.MoeIntermediateSize);
            register_module("shared_experts", SharedExperts);
        }
    }

    public Router Gate { get; }
    public ModuleList<SwiGluMlp> Experts { get; }
    public SwiGluMlp? SharedExperts { get; }

    /// <summary>x: [batch, seq, hidden] → [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor x, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        var shape = x.shape;
        var tokens = x.reshape(-1, shape[^1]);                                           // [N, hidden]
        var route = Gate.Route(tokens);

        // Sort the N·K (token, expert) pairs by expert; each expert's tokens are then one contiguous slice.
        var flatExperts = route.Indices.reshape(-1);                                      // [N·K]
        var order = flatExperts.argsort();
        var tokenOfPair = order.div(_topK, rounding_mode: RoundingMode.floor);            // [N·K]
        var weightOfPair = route.Weights.reshape(-1).index_select(0, order);              // [N·K]
        long[] counts = flatExperts.bincount(null, Experts.Count).cpu().data<long>().ToArray();

        var routed = zeros(tokens.shape, ScalarType.Float32, tokens.device);              // [N, hidden], fp32 sum
        long start = 0;
        for (int e = 0; e < counts.Length; e++)
        {
            if (counts[e] == 0) continue;
            var rows = tokenOfPair.narrow(0, start, counts[e]);
            var expertOut = Experts[e].forward(tokens.index_select(0, rows));             // [n_e, hidden]
            var weighted = expertOut.to(ScalarType.Float32) * weightOfPair.narrow(0, start, counts[e]).unsqueeze(1);
            routed = routed.index_add(0, rows, weighted, 1.0);
            start += counts[e];
        }

        var output = routed.to(x.dtype);
        if (SharedExperts is not null)
            output = output + SharedExperts.forward(tokens);
        if (context.Routing is { } trace)
            trace.Add(_layer, route);
        return output.reshape(shape).MoveToOuterDisposeScope();
    }
}
