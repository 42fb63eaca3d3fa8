using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints;

/// <summary>
/// <see cref="ParameterLayout"/> against a built model's state dict, and <see cref="StreamingInitializer"/>'s files
/// against <see cref="ModelCheckpoint.Save"/> of a model initialized by <see cref="WeightInitializer"/> with the same
/// seed: byte for byte, FP8 and bf16, one file and sharded.
/// </summary>
public sealed class StreamingInitializerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>V2-Lite's features at tiny size: no query compression, softmax greedy routing, no MTP, no bias.</summary>
    private static readonly ModelConfig TinyV2Lite = ModelPresets.Tiny with
    {
        QLoraRank = null, ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.Greedy, NGroup = 1, TopkGroup = 1,
        NumNextnPredictLayers = 0, NormTopkProb = false, RoutedScalingFactor = 1.0, NSharedExperts = 2,
    };

    public static TheoryData<string> Configs => ["tiny", "small", "tiny-v2-lite"];

    private static ModelConfig Config(string name) => name == "tiny-v2-lite" ? TinyV2Lite : ModelPresets.Get(name);

    [Theory]
    [MemberData(nameof(Configs))]
    public void Layout_is_the_models_state_dict_in_order(string name)
    {
        var config = Config(name);
        using var model = new DeepSeekV3ForCausalLM(config);
        var expected = model.state_dict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape))).ToList();
        var layout = ParameterLayout.For(config).Select(s => (s.Name, string.Join(",", s.Shape))).ToList();
        Assert.Equal(expected, layout);
        Assert.Equal(model.ParameterCount,
            ParameterLayout.For(config).Where(s => s.Role != ParameterRole.CorrectionBias).Sum(s => s.ElementCount));
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Initialization_order_is_the_order_weight_initializer_visits_parameters(string name)
    {
        var config = Config(name);
        using var model = new DeepSeekV3ForCausalLM(config);
        // WeightInitializer's own traversal, written out.
        var visited = model.named_modules().SelectMany(m => m.module.named_parameters(recurse: false).Select(p => $"{m.name}.{p.name}")).ToList();
        var order = ParameterLayout.InitializationOrder(ParameterLayout.For(config)).Select(s => s.Name).ToList();
        Assert.Equal(visited, order);
        Assert.NotEqual(ParameterLayout.For(config).Where(s => s.Role != ParameterRole.CorrectionBias).Select(s => s.Name), order);
    }

    [Fact]
    public void V2_lite_layout_has_15_706_484_224_parameters_as_worked_by_hand()
    {
        // Embedding + head 2·102400·2048 = 419,430,400. Attention per layer: q_proj 2048·16·192 = 6,291,456,
        // kv_a 2048·576 = 1,179,648, kv_a_layernorm 512, kv_b 512·16·256 = 2,097,152, o 2048·2048 = 4,194,304:
        // 13,763,072; two norms 4,096. Layer 0 dense 3·2048·10944 = 67,239,936 → 81,007,104. MoE layers: 64 experts
        // 64·3·2048·1408 = 553,648,128, shared 3·2048·2816 = 17,301,504, router 64·2048 = 131,072 → 584,847,872, ×26
        // = 15,206,044,672. Final norm 2,048. Total 15,706,484,224: the published "15.7B".
        var layout = ParameterLayout.For(ModelPresets.V2Lite);
        long total = layout.Sum(s => s.ElementCount);
        Assert.Equal(15_706_484_224, total);
        Assert.Equal(new ModelSize(ModelPresets.V2Lite).TotalParameters, total);
        Assert.DoesNotContain(layout, s => s.Role == ParameterRole.CorrectionBias || s.Name.Contains("q_a_proj"));
    }

    [Theory]
    [InlineData("tiny", true, 5120L << 20)]
    [InlineData("tiny", false, 200_000L)]
    [InlineData("tiny-v2-lite", true, 300_000L)]
    [InlineData("tiny-v2-lite", false, 5120L << 20)]
    public void Streamed_checkpoint_equals_saving_an_initialized_model(string name, bool fp8, long maxShardBytes)
    {
        var config = Config(name);
        var options = new ModelCheckpoint.SaveOptions { Fp8 = fp8, Dtype = ScalarType.BFloat16, MaxShardBytes = maxShardBytes };
        string built = _temp.File("built"), streamed = _temp.File("streamed");
        using (var model = new DeepSeekV3ForCausalLM(config))
        {
            WeightInitializer.Initialize(model, seed: 11);
            ModelCheckpoint.Save(model, built, options);
        }
        var progress = new List<(long Done, long Total)>();
        var plan = StreamingInitializer.Write(config, streamed, options, seed: 11, progress: new SyncProgress(progress.Add));

        var builtFiles = Directory.GetFiles(built).Select(f => Path.GetFileName(f)).Order().ToList();
        Assert.Equal(builtFiles, Directory.GetFiles(streamed).Select(f => Path.GetFileName(f)).Order().ToList());
        Assert.Equal(maxShardBytes < 1_000_000, builtFiles.Contains("model.safetensors.index.json"));
        using (var expected = CheckpointReader.Open(built))
        using (var actual = CheckpointReader.Open(streamed))
        {
            Assert.Equal(expected.TensorNames, actual.TensorNames);
            foreach (string tensor in expected.TensorNames)
            {
                using var a = expected.Read(tensor);
                using var b = actual.Read(tensor);
                Assert.True(a.bytes.SequenceEqual(b.bytes), $"{tensor} differs");
            }
        }
        foreach (string file in builtFiles)
            Assert.True(File.ReadAllBytes(Path.Combine(built, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(streamed, file))),
                $"{file} differs");
        Assert.Equal(plan.Count, progress.Count);
        Assert.Equal(progress[^1].Total, progress[^1].Done);
        Assert.Equal(plan.Sum(p => p.ByteLength), progress[^1].Total);

        using var loaded = ModelCheckpoint.Load(streamed);   // the reader's own checks: names, shapes, scales
        Assert.Equal(config.HasQueryCompression, loaded.Config.HasQueryCompression);
        Assert.Equal(fp8, loaded.Config.QuantizationConfig is not null);
    }

    [Fact]
    public async Task Resident_memory_stays_near_the_largest_tensor_not_the_model()
    {
        // 32 routed experts of 512×1024 in each of 6 layers: about 106M parameters (424 MB in f32, 212 MB stored in
        // bf16); the largest tensor is the 8192×512 embedding (16 MB in f32).
        var config = ModelPresets.Small with
        {
            VocabSize = 8192, NumHiddenLayers = 6, NRoutedExperts = 32, NumExpertsPerTok = 4, NGroup = 4, TopkGroup = 2,
            MoeIntermediateSize = 1024, NumNextnPredictLayers = 0,
        };
        long parameters = ParameterLayout.For(config).Sum(s => s.ElementCount);
        Assert.True(parameters > 100_000_000, $"{parameters} parameters: too small to show the bound");
        var options = new ModelCheckpoint.SaveOptions { Dtype = ScalarType.BFloat16, MaxShardBytes = 64L << 20 };

        long baseline = ResidentBytes(), peak = baseline;
        using var done = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                peak = Math.Max(peak, ResidentBytes());
                await Task.Delay(2);
            }
        });
        StreamingInitializer.Write(config, _temp.File("mid"), options, seed: 3);
        done.Cancel();
        await sampler;
        peak = Math.Max(peak, ResidentBytes());
        long growth = peak - baseline;
        Assert.True(growth < 150L << 20,
            $"resident memory grew by {growth >> 20} MiB while writing {parameters / 1e6:F0}M parameters ({parameters * 2 >> 20} MiB stored)");
    }

    private static long ResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    /// <summary>Reports on the writing thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<(long, long)> report) : IProgress<(long Done, long Total)>
    {
        public void Report((long Done, long Total) value) => report(value);
    }
}
