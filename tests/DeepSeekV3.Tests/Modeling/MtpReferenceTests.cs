using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

/// <summary>The main model and the MTP modules against <see cref="ReferenceModel"/>, a double-precision
/// transcription of the report's equations that reads the same weights but none of the model's code.</summary>
public class MtpReferenceTests
{
    /// <summary>Tiny (YaRN on, query compression, sigmoid + noaux_tc groups) with two MTP modules.</summary>
    internal static readonly ModelConfig TwoMtpModules = ModelPresets.Tiny with { NumNextnPredictLayers = 2 };

    /// <summary>A V2-style model: softmax scoring without renormalization, no query compression,
    /// group_limited_greedy, no YaRN; one MTP module.</summary>
    private static readonly ModelConfig V2Style = ModelPresets.Tiny with
    {
        QLoraRank = null, ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.GroupLimitedGreedy, NormTopkProb = false,
        RoutedScalingFactor = 1.0, RopeScaling = null,
    };

    /// <summary>
    /// A tiny model with weights large enough (std 0.1) that attention is far from uniform and the router's
    /// choice matters, and nonzero correction biases (which steer selection only).
    /// </summary>
    internal static DeepSeekV3ForCausalLM Create(ModelConfig config)
    {
        var model = TinyModels.Create(config, seed: 4, std: 0.1);
        using var generator = new Generator(9);
        foreach (var router in model.modules().OfType<Router>())
            if (router.ExpertScoreCorrectionBias is not null)
            {
                using var bias = randn(config.NRoutedExperts, generator: generator) * 0.05;
                router.SetCorrectionBias(bias);
            }
        return model;
    }

    /// <summary>Row <paramref name="b"/> of a [batch, s, n] tensor as s arrays of n doubles.</summary>
    internal static double[][] Rows(Tensor t, int b)
    {
        using var row = t[b].to(ScalarType.Float64).contiguous();
        return row.data<double>().ToArray().Chunk((int)t.shape[^1]).ToArray();
    }

    /// <summary>
    /// fp32 against double: about 1e-7 relative rounding per op, accumulated over dot products of up to 192 terms
    /// and 3-5 blocks. Measured: max |Δ| ≤ 2.8e-6 on hidden states and logits whose largest magnitude is 3-6 (both
    /// variants, every depth). 3e-5 leaves a 10× margin and is far below what a wrong equation, order or routing
    /// decision changes (1e-2 and more).
    /// </summary>
    private static void AssertClose(double[][] expected, double[][] actual, string what, double tolerance = 3e-5)
    {
        double worst = expected.Zip(actual).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        Assert.True(worst < tolerance, $"{what}: max |reference − model| = {worst:E2}, expected < {tolerance:E0}");
    }

    [Theory]
    [InlineData("v3")]
    [InlineData("v2")]
    public void Main_model_and_each_mtp_depth_match_a_double_precision_reference(string variant)
    {
        var config = variant == "v3" ? TwoMtpModules : V2Style;
        using var model = Create(config);
        var reference = new ReferenceModel(model);
        const int length = 8;
        using var tokens = TinyModels.Tokens(2, length + config.NumNextnPredictLayers, config.VocabSize, seed: 3);
        using var _ = no_grad();

        using var main = model.Forward(tokens.narrow(1, 0, length));
        Tensor previous = main.Hidden;                                                     // h^0, [2, length, hidden]
        var outputs = new List<ModelOutput>();
        for (int depth = 1; depth <= config.NumNextnPredictLayers; depth++)
        {
            // Depth k reads h^{k−1}_i and t_{i+k} for i = 0..length−1.
            using var next = tokens.narrow(1, depth, length);
            var output = model.ForwardMtp(depth, previous, next);
            outputs.Add(output);
            previous = output.Hidden;
        }

        for (int b = 0; b < 2; b++)
        {
            var sequence = tokens[b].data<long>().ToArray();
            var (h0, logits) = reference.Main(sequence[..length]);
            AssertClose(h0, Rows(main.Hidden, b), $"main hidden, sequence {b}");
            AssertClose(logits, Rows(main.Logits, b), $"main logits, sequence {b}");

            // Each depth from the model's own h^{k−1}, so an error shows at the depth that makes it.
            var modelPrevious = Rows(main.Hidden, b);
            for (int depth = 1; depth <= config.NumNextnPredictLayers; depth++)
            {
                var (hk, mtpLogits) = reference.Mtp(depth, modelPrevious, sequence[depth..(depth + length)]);
                AssertClose(hk, Rows(outputs[depth - 1].Hidden, b), $"h^{depth}, sequence {b}");
                AssertClose(mtpLogits, Rows(outputs[depth - 1].Logits, b), $"MTP depth {depth} logits, sequence {b}");
                modelPrevious = Rows(outputs[depth - 1].Hidden, b);
            }
        }
        outputs.ForEach(o => o.Dispose());
    }
}
