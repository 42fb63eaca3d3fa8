using DeepSeekV3.Checkpoints;
using DeepSeekV3.Checkpoints.Gguf;
using DeepSeekV3.Configuration;
using DeepSeekV3.Tests.Modeling;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints.Gguf;

/// <summary>
/// The 16B pipeline at tiny size: a V2-Lite-shaped checkpoint written by <see cref="StreamingInitializer"/> as FP8
/// (never a model in memory), exported to GGUF from the files, run by llama.cpp, against our model loaded from the
/// same files. F32 export: the FP8 weights dequantized exactly, so the logits must agree to the peer tolerance.
/// </summary>
public sealed class LlamaCppStreamedCheckpointTests(ITestOutputHelper log) : IDisposable
{
    private const double Tolerance = 1e-4;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>V2-Lite's structure (no query compression, softmax greedy top-6 of 16 routed experts, 2 shared,
    /// YaRN with mscale 0.707, one dense layer, no MTP) at tiny widths; 26 layers, a count llama.cpp treats as "lite".</summary>
    private static readonly ModelConfig TinyV2Lite = ModelPresets.V2Lite with
    {
        VocabSize = 320, HiddenSize = 64, IntermediateSize = 160, NumHiddenLayers = 26, NumAttentionHeads = 4, NumKeyValueHeads = 4,
        KvLoraRank = 24, QkNopeHeadDim = 16, QkRopeHeadDim = 8, VHeadDim = 12, MoeIntermediateSize = 32, NRoutedExperts = 16,
        MaxPositionEmbeddings = 512, BosTokenId = 0, EosTokenId = 1,
        RopeScaling = ModelPresets.V2Lite.RopeScaling! with { Factor = 4, OriginalMaxPositionEmbeddings = 128 },
    };

    [Fact]
    public void Llama_cpp_on_the_gguf_of_a_streamed_fp8_v2_lite_checkpoint_matches_our_model_on_the_same_files()
    {
        string dir = _temp.File("streamed"), gguf = _temp.File("model.gguf");
        // std 0.08 instead of the report's 0.006: logits of a random model with tiny weights are all near zero.
        StreamingInitializer.Write(TinyV2Lite, dir, new ModelCheckpoint.SaveOptions { Fp8 = true, Dtype = ScalarType.Float32 },
            seed: 5, std: 0.08);
        GgufExporter.Export(dir, gguf, GgufTensorType.F32);
        using var model = ModelCheckpoint.Load(dir);
        long[] tokens = TinyModels.Tokens(1, 40, TinyV2Lite.VocabSize, seed: 6)[0].data<long>().ToArray();
        using var peer = new LlamaCppPeer(gguf);

        float[][] ours = LlamaCppPeerTests.OurPrefill(model, tokens);
        float[][] theirs = peer.Prefill(tokens);
        double prefill = LlamaCppPeerTests.MaxAbsDiff(ours, theirs);
        double decode = LlamaCppPeerTests.MaxAbsDiff(LlamaCppPeerTests.OurCachedDecode(model, tokens), peer.DecodeStepwise(tokens));
        double scale = ours.SelectMany(r => r).Max(Math.Abs);
        int sameGreedy = ours.Zip(theirs).Count(p => ArgMax(p.First) == ArgMax(p.Second));
        log.WriteLine($"max |logit| {scale:G4}; max abs diff prefill {prefill:E2}, decode {decode:E2}; greedy agrees at {sameGreedy}/{tokens.Length}");
        Assert.True(scale > 0.5, $"logits too small ({scale}) for the comparison to mean anything");
        Assert.True(prefill <= Tolerance, $"prefill: max abs diff {prefill:E3} > {Tolerance}");
        Assert.True(decode <= Tolerance, $"decode: max abs diff {decode:E3} > {Tolerance}");
        Assert.Equal(tokens.Length, sameGreedy);
    }

    private static int ArgMax(float[] row) => Array.IndexOf(row, row.Max());
}
