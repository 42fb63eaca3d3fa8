using DeepSeekV3.Modeling;

namespace DeepSeekV3.Distributed;

/// <summary>
/// Turns a full model into this rank's expert-parallel shard: every MoE layer (main and MTP) keeps only the routed
/// experts of the rank's place in its expert-parallel group and routes tokens through an
/// <see cref="ExpertParallelExecutor"/>. Attention, dense layers, shared experts, routers, embedding and head stay
/// whole (data parallel). Build and initialize the full model with the same seed on every rank first, then shard:
/// <see cref="WeightInitializer"/> draws parameters in state-dict order from one generator, so values depend on
/// what came before, not on what is dropped afterwards. (Every rank briefly holds all experts; fine at the sizes
/// trained here, not at 671B, where each rank would build only its own.)
/// </summary>
public static class ExpertParallel
{
    /// <summary>Shards <paramref name="model"/> in place. The returned executor (one for all layers) carries the
    /// communication timer.</summary>
    public static ExpertParallelExecutor Shard(DeepSeekV3ForCausalLM model, ParallelContext context, bool overlap = true)
    {
        context.Layout.Validate(model.Config);
        int experts = model.Config.NRoutedExperts;
        var executor = new ExpertParallelExecutor(context.ExpertGroup, experts, overlap);
        var (first, count) = context.Layout.LocalExperts(experts);
        foreach (var moe in MoeLayers(model))
        {
            moe.RetainExperts(first, count);
            moe.UseExecutor(executor);
        }
        return executor;
    }

    /// <summary>Every MoE layer of the model, the MTP modules' included.</summary>
    public static IEnumerable<MixtureOfExperts> MoeLayers(DeepSeekV3ForCausalLM model) =>
        model.modules().OfType<MixtureOfExperts>();

    /// <summary>Whether a state-dict parameter is a routed expert's, i.e. sharded over the expert-parallel group and
    /// replicated over the expert-data-parallel group (its gradient is summed there, not over the world).</summary>
    public static bool IsRoutedExpertParameter(string name) => name.Contains(".mlp.experts.", StringComparison.Ordinal);
}
