using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

/// <summary><c>--weights</c>: a checkpoint's weights held as stored, quantized or converted at load, and generation on
/// them with no LibTorch model, against the model LibTorch loads from a checkpoint of the same values.</summary>
public sealed class CheckpointWeightsTests(CheckpointWeightsTests.Checkpoints saved) : IClassFixture<CheckpointWeightsTests.Checkpoints>
{
    private static ModelConfig Config => ModelPresets.Tiny with { HiddenSize = 160, QLoraRank = 144, KvLoraRank = 136 };

    /// <summary>The same random model saved twice in fp32 tensors, once for the class: as is, and with its block
    /// linears as FP8.</summary>
    public sealed class Checkpoints : IDisposable
    {
        private readonly string _root = Path.Combine(Path.GetTempPath(), "dsv3-weights-" + Guid.NewGuid().ToString("N"));

        public Checkpoints()
        {
            F32 = Path.Combine(_root, "f32");
            Fp8 = Path.Combine(_root, "fp8");
            using var source = TinyModels.Create(Config, seed: 6, std: 0.08);
            ModelCheckpoint.Save(source, F32, new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32 });
            ModelCheckpoint.Save(source, Fp8, new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32, Fp8 = true });
        }

        public string F32 { get; }
        public string Fp8 { get; }

        public void Dispose() => Directory.Delete(_root, recursive: true);
    }

    private (string F32, string Fp8) SaveBoth() => (saved.F32, saved.Fp8);

    [Fact]
    public void Fp8_mode_quantizes_only_the_block_linears_and_bf16_mode_converts_everything()
    {
        var (f32, fp8) = SaveBoth();
        using (var quantized = CheckpointWeights.Open(f32, WeightsMode.Fp8))
        {
            Assert.Equal(WeightFormat.Fp8E4M3, quantized.Matrix("model.layers.1.self_attn.kv_b_proj.weight").Format);
            Assert.Equal(WeightFormat.Fp8E4M3, quantized.Matrix("model.layers.1.mlp.experts.3.down_proj.weight").Format);
            Assert.Equal(WeightFormat.F32, quantized.Matrix("model.embed_tokens.weight").Format);
            Assert.Equal(WeightFormat.F32, quantized.Matrix("lm_head.weight").Format);
            Assert.Equal(WeightFormat.F32, quantized.Matrix("model.layers.1.mlp.gate.weight").Format);
            Assert.Equal(WeightFormat.F32, quantized.Matrix($"model.layers.{Config.NumHiddenLayers}.eh_proj.weight").Format);
        }
        using var converted = CheckpointWeights.Open(fp8, WeightsMode.Bf16);
        Assert.Equal(WeightFormat.Bf16, converted.Matrix("model.layers.1.self_attn.kv_b_proj.weight").Format);
        Assert.Equal(WeightFormat.Bf16, converted.Matrix("lm_head.weight").Format);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Generation_without_a_model_matches_the_dequantized_model(bool speculative)
    {
        var (f32, fp8) = SaveBoth();
        var config = Config;
        var request = new GenerationRequest(TinyModels.Prompt(19, seed: 2), new SamplingParams { MaxTokens = 10, IgnoreEos = true });
        long[] expected;
        using (var model = ModelCheckpoint.Load(fp8))
            expected = new GenerationEngine(model, speculative: speculative).Generate([request])[0].Tokens;
        // Stored (the FP8 file mapped) and quantized at load from fp32 hold the same codes and scales.
        foreach (var (directory, mode) in new[] { (fp8, WeightsMode.Stored), (f32, WeightsMode.Fp8) })
        {
            using var weights = CheckpointWeights.Open(directory, mode);
            // The 19-token prompt prefills on the GEMM: in fp32, so greedy tokens can be compared exactly (the bf16
            // default is held to its tolerance in GemmPrefillTests).
            var engine = new GenerationEngine(config, () => new FusedWeightsBackend(config, weights, threads: 1, GemmPrecision.F32),
                                              speculative: speculative);
            Assert.Equal(expected, engine.Generate([request])[0].Tokens);
        }
    }
}
