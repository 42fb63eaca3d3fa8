using DeepSeekV3.Checkpoints.Gguf;
using DeepSeekV3.Configuration;
using DeepSeekV3.Tests.Modeling;
using Xunit.Abstractions;

namespace DeepSeekV3.Tests.Checkpoints.Gguf;

/// <summary>
/// DeepSeek-V2 variants against llama.cpp, as <see cref="LlamaCppPeerTests"/> does for V3: softmax scoring with
/// and without renormalization, and V2-Lite's attention without query compression. Not testable here:
/// group_limited_greedy with n_group > 1 (DeepSeek-V2's full-size router), because llama.cpp's deepseek2 scores a
/// group only by the sum of its top-2 expert scores (V3's noaux_tc rule), not by its best expert; the exporter
/// refuses such configs (GgufExportTests). With one group it is plain greedy, the "softmax" case below.
/// </summary>
public sealed class LlamaCppV2PeerTests(ITestOutputHelper log) : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>V2's router: softmax over all experts, plain top-K, no correction bias, no MTP.</summary>
    private static readonly ModelConfig V2Routing = GgufTestModels.PeerConfig with
    {
        ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.Greedy, NGroup = 1, TopkGroup = 1, NumNextnPredictLayers = 0,
    };

    public static TheoryData<string> Variants => ["softmax", "softmax-renormalized", "v2-lite"];

    private static ModelConfig Variant(string name) => name switch
    {
        // DeepSeek-V2's published routing: raw top-K probabilities (norm_topk_prob false), unscaled.
        "softmax" => V2Routing with { NormTopkProb = false, RoutedScalingFactor = 1.0 },
        // Softmax probabilities renormalized over the chosen K and scaled (expert_weights_norm, expert_weights_scale).
        "softmax-renormalized" => V2Routing with { NormTopkProb = true, RoutedScalingFactor = 2.0 },
        // V2-Lite: no query compression (q_proj) and YaRN with mscale = mscale_all_dim = 0.707. llama.cpp decides
        // "no q_lora" from the layer count alone (26 or 27 layers; see DeepSeek2Metadata), hence 26 layers.
        "v2-lite" => V2Routing with
        {
            QLoraRank = null, NumHiddenLayers = 26, NormTopkProb = false, RoutedScalingFactor = 1.0,
            RopeScaling = GgufTestModels.PeerConfig.RopeScaling! with { Mscale = 0.707, MscaleAllDim = 0.707 },
        },
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Llama_cpp_matches_our_logits_for_a_v2_variant(string variant)
    {
        var config = Variant(variant);
        using var model = GgufTestModels.Create(config);
        string gguf = _temp.File("model.gguf");
        GgufExporter.Export(GgufTestModels.Save(model, _temp.File("model")), gguf, GgufTensorType.F32);
        long[] tokens = TinyModels.Tokens(1, 48, config.VocabSize, seed: 5)[0].data<long>().ToArray();
        using var peer = new LlamaCppPeer(gguf);

        float[][] ours = LlamaCppPeerTests.OurPrefill(model, tokens);
        double prefill = LlamaCppPeerTests.MaxAbsDiff(ours, peer.Prefill(tokens));
        double decode = LlamaCppPeerTests.MaxAbsDiff(LlamaCppPeerTests.OurCachedDecode(model, tokens), peer.DecodeStepwise(tokens));
        double scale = ours.SelectMany(r => r).Max(Math.Abs);
        log.WriteLine($"{variant}: max |logit| {scale:G4}; max abs diff prefill {prefill:E2}, decode {decode:E2}");
        Assert.True(scale > 0.5, $"logits too small ({scale}) for the comparison to mean anything");
        Assert.True(prefill <= Tolerance, $"{variant} prefill: max abs diff {prefill:E3} > {Tolerance}");
        Assert.True(decode <= Tolerance, $"{variant} decode: max abs diff {decode:E3} > {Tolerance}");
    }
}
