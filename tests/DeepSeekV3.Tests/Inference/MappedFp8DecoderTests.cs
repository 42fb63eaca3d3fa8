using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using DeepSeekV3.Precision;
using DeepSeekV3.Tests.Modeling;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

/// <summary>
/// The fused decoder straight on a memory-mapped FP8 checkpoint (no TorchSharp model) against the LibTorch model
/// loaded from the same checkpoint (FP8 dequantized with its block scales). Measures resident memory, so it runs alone.
/// </summary>
[Collection(SerialCollection.Name)]
public sealed class MappedFp8DecoderTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateDirectory(
        Path.Combine(Path.GetTempPath(), "dsv3-mapped-" + Guid.NewGuid().ToString("N"))).FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Tiny, but wide enough that every projection has two or more 128-column or 128-row scale blocks, the
    /// last one partial.</summary>
    internal static ModelConfig Config => ModelPresets.Tiny with
    {
        HiddenSize = 160, IntermediateSize = 200, MoeIntermediateSize = 136, QLoraRank = 144, KvLoraRank = 136,
    };

    /// <summary>max |actual − expected| / max |expected|, in float64.</summary>
    internal static double Relative(Tensor expected, Tensor actual) =>
        ((actual.to(ScalarType.Float64) - expected.to(ScalarType.Float64)).abs().max()
         / expected.to(ScalarType.Float64).abs().max()).item<double>();

    [Fact]
    public void Fp8_checkpoint_decodes_from_the_mapped_file_like_the_dequantized_model()
    {
        var config = Config;
        using (var source = TinyModels.Create(config, seed: 3, std: 0.08))
            ModelCheckpoint.Save(source, _directory, new ModelCheckpoint.SaveOptions { Fp8 = true });
        using var _ = no_grad();
        using var model = ModelCheckpoint.Load(_directory);                    // fp32, FP8 dequantized at load
        using var weights = new MappedCheckpointWeights(_directory);
        using var fused = new FusedDecoder(config, weights, threads: 2);
        Assert.Equal(WeightFormat.Fp8E4M3, weights.Matrix("model.layers.1.mlp.experts.0.gate_proj.weight").Format);

        int layers = config.NumHiddenLayers + config.NumNextnPredictLayers;
        using var referenceCache = new PagedLatentCache(config, layers, ScalarType.Float32, CPU, blockSize: 8);
        using var fusedCache = new PagedLatentCache(config, layers, ScalarType.Float32, CPU, blockSize: 8);
        referenceCache.SetBatch(referenceCache.AddSequence());
        fusedCache.SetBatch(fusedCache.AddSequence());
        var prompt = TinyModels.Prompt(21, seed: 4);                            // two fused passes: 16 + 5 rows
        using var promptIds = tensor(prompt).unsqueeze(0);
        using var expectedPrefill = model.Forward(promptIds, new ForwardContext { Cache = referenceCache });
        using var actualPrefill = fused.Prefill(prompt, fusedCache, lastOnly: false);
        double worst = Relative(expectedPrefill.Logits.narrow(1, 20, 1), actualPrefill.Logits);
        worst = Math.Max(worst, Relative(expectedPrefill.Hidden, actualPrefill.Hidden));

        long next = expectedPrefill.Logits[0, -1].argmax().item<long>();
        var hidden = expectedPrefill.Hidden.narrow(1, 20, 1).clone();
        for (int step = 0; step < 5; step++)
        {
            using var scope = NewDisposeScope();
            var token = tensor(new[] { next }).view(1, 1);
            // MTP module 1 over (h_i, t_{i+1}), then the main model over t_{i+1}, each path on its own cache.
            var expectedDraft = model.ForwardMtp(1, hidden, token, new ForwardContext { Cache = referenceCache });
            var actualDraft = fused.ForwardMtp(1, hidden, token, fusedCache);
            worst = Math.Max(worst, Relative(expectedDraft.Logits, actualDraft.Logits));
            var expected = model.Forward(token, new ForwardContext { Cache = referenceCache });
            var actual = fused.Forward(token, fusedCache);
            worst = Math.Max(worst, Relative(expected.Logits, actual.Logits));
            next = expected.Logits[0, -1].argmax().item<long>();
            hidden.Dispose();
            hidden = expected.Hidden.clone().MoveToOuterDisposeScope();
        }
        hidden.Dispose();
        output.WriteLine($"max relative logit difference {worst:E2}");
        Assert.True(worst <= 1e-3, $"max relative logit difference {worst:E2}");
    }

    [Fact]
    public void Mapping_a_checkpoint_costs_no_resident_memory_until_its_weights_are_read()
    {
        const int rows = 4096, columns = 8192;                                  // 32 MiB of FP8 codes
        using (var source = randn(rows, columns) * 0.02)
        {
            var (codes, scales) = BlockQuantization.QuantizeWeight(source);
            using (codes) using (scales)
                SafetensorsWriter.Write(Path.Combine(_directory, CheckpointLayout.SingleFileName),
                    [("model.layers.0.mlp.down_proj.weight", codes), ("model.layers.0.mlp.down_proj.weight_scale_inv", scales)]);
        }
        GC.Collect();
        long fileBytes = new FileInfo(Path.Combine(_directory, CheckpointLayout.SingleFileName)).Length;
        long before = ResidentBytes();
        using var weights = new MappedCheckpointWeights(_directory);
        var w = weights.Matrix("model.layers.0.mlp.down_proj.weight");
        long mapped = ResidentBytes() - before;
        Assert.True(mapped < fileBytes / 8, $"mapping grew resident memory by {mapped >> 20} MiB of a {fileBytes >> 20} MiB file");

        var x = new float[columns];
        var y = new float[rows];
        x.AsSpan().Fill(1f);
        unsafe
        {
            fixed (float* xs = x, ys = y) w.Multiply(xs, 1, ys, null);
        }
        long touched = ResidentBytes() - before;
        output.WriteLine($"file {fileBytes >> 20} MiB: resident +{mapped >> 10} KiB after mapping, +{touched >> 20} MiB after reading every weight");
        // Reading every weight brings the pages in: the measure sees them, so the bound above is not vacuous.
        Assert.True(touched > fileBytes / 2, $"reading all weights grew resident memory by only {touched >> 20} MiB of {fileBytes >> 20} MiB");
        Assert.True(y.All(float.IsFinite));
    }

    [Fact]
    public void The_mapped_checkpoint_is_advised_for_2_MB_pages()
    {
        using (var source = randn(256, 256) * 0.02)
        {
            var (codes, scales) = BlockQuantization.QuantizeWeight(source);
            using (codes) using (scales)
                SafetensorsWriter.Write(Path.Combine(_directory, CheckpointLayout.SingleFileName),
                    [("model.layers.0.mlp.down_proj.weight", codes), ("model.layers.0.mlp.down_proj.weight_scale_inv", scales)]);
        }
        using var weights = new MappedCheckpointWeights(_directory);
        ulong address;
        unsafe { address = (ulong)weights.Matrix("model.layers.0.mlp.down_proj.weight").Data; }
        // /proc/self/smaps: a "start-end perms offset dev inode path" line per mapping, its "VmFlags:" line below;
        // "hg" is MADV_HUGEPAGE (proc(5)).
        string? flags = null;
        bool inside = false;
        foreach (string line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.IndexOf('-') is int dash and > 0 && line.IndexOf(' ') > dash)
            {
                ulong start = Convert.ToUInt64(line[..dash], 16), end = Convert.ToUInt64(line[(dash + 1)..line.IndexOf(' ')], 16);
                inside = address >= start && address < end;
                if (inside) Assert.EndsWith(CheckpointLayout.SingleFileName, line);
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
                flags = line;
        }
        Assert.NotNull(flags);
        Assert.Contains(" hg", flags);
    }

    private static long ResidentBytes()
    {
        string line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }
}
