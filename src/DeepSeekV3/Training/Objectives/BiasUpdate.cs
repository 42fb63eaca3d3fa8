using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Objectives;

/// <summary>
/// Auxiliary-loss-free load balancing (report §2.1.2): after each step, every expert's bias moves by γ toward
/// balance, b_i += γ · sign(mean load − load_i) — down when overloaded, up when underloaded, unchanged when exactly
/// at the mean. The bias is a buffer (<c>e_score_correction_bias</c>), never seen by the optimizer.
/// </summary>
public static class BiasUpdate
{
    /// <summary>The new bias values for one layer (pure arithmetic, for tests and for <see cref="Apply"/>).</summary>
    public static float[] Updated(IReadOnlyList<float> bias, IReadOnlyList<long> load, double gamma)
    {
        double mean = load.Average(c => (double)c);
        var result = new float[bias.Count];
        for (int i = 0; i < bias.Count; i++)
            result[i] = (float)(bias[i] + gamma * Math.Sign(mean - load[i]));
        return result;
    }

    /// <summary>Updates each MoE router of <paramref name="model"/> from its layer's load over the last step.</summary>
    public static void Apply(DeepSeekV3ForCausalLM model, IEnumerable<ExpertLoad> loads, double gamma)
    {
        if (gamma == 0) return;
        foreach (var load in loads)
        {
            var router = model.Model.Layers[load.Layer].Moe?.Gate;
            if (router?.ExpertScoreCorrectionBias is not { } bias) continue;
            using var scope = NewDisposeScope();
            var current = bias.cpu().data<float>().ToArray();
            router.SetCorrectionBias(tensor(Updated(current, load.Counts, gamma), ScalarType.Float32));
        }
    }
}
