using DeepSeekV3.Checkpoints.Gguf;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints.Gguf;

/// <summary>
/// The peer check: a random tiny DeepSeek-V3 (MLA with query compression, YaRN active, sigmoid routing with
/// correction bias and group limits, a shared expert, a dense first layer) exported to GGUF F32 and run by llama.cpp
/// must give our engine's logits at every position, for a one-batch prefill and for token-by-token decoding with
/// each engine's own cache. A deliberately wrong export must fail the same comparison.
/// </summary>
public sealed class LlamaCppPeerTests(ITestOutputHelper log) : IDisposable
{
    private const double Tolerance = 1e-4;
    private static readonly DeepSeekV3.Configuration.ModelConfig Config = GgufTestModels.PeerConfig;
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    /// <summary>48 random ids, past YaRN's 8-pair ramp; with the tiny original context 128 positions are cheap.</summary>
    private static long[] Tokens() => TinyModels.Tokens(1, 48, Config.VocabSize, seed: 5)[0].data<long>().ToArray();

    private (DeepSeekV3ForCausalLM Model, string Gguf) ExportRandomModel(GgufTensorType type = GgufTensorType.F32)
    {
        var model = GgufTestModels.Create(Config);
        string dir = GgufTestModels.Save(model, _temp.File("model"));
        string gguf = _temp.File("model.gguf");
        GgufExporter.Export(dir, gguf, type);
        return (model, gguf);
    }

    [Fact]
    public void Llama_cpp_matches_our_logits_at_every_position_for_prefill_and_cached_decode()
    {
        var (model, gguf) = ExportRandomModel();
        using var _ = model;
        long[] tokens = Tokens();
        using var peer = new LlamaCppPeer(gguf);
        Assert.Equal(Config.VocabSize, peer.VocabSize);

        float[][] ours = OurPrefill(model, tokens);
        double prefill = MaxAbsDiff(ours, peer.Prefill(tokens));
        double decode = MaxAbsDiff(OurCachedDecode(model, tokens), peer.DecodeStepwise(tokens));
        double scale = ours.SelectMany(r => r).Max(Math.Abs);
        log.WriteLine($"max |logit| {scale:G4}; max abs diff prefill {prefill:E2}, decode {decode:E2}");
        Assert.True(scale > 0.5, $"logits too small ({scale}) for the comparison to mean anything");
        Assert.True(prefill <= Tolerance, $"prefill: max abs diff {prefill:E3} > {Tolerance}");
        Assert.True(decode <= Tolerance, $"decode: max abs diff {decode:E3} > {Tolerance}");
    }

    /// <summary>
    /// F16 export. llama.cpp's CPU matmul with F16 weights converts its F32 input to F16 before the F16·F16 dot
    /// products (accumulating in F32), so it rounds every matmul's activations as well as the weights. Our reference is
    /// our F32 forward over the weights rounded to half exactly as the export rounds them; the activation rounding is
    /// what is left. It has the same unit roundoff (2⁻¹¹) and about as many rounded operands per product as the weight
    /// rounding, so it should move the logits about as much as the weight rounding itself does: here 3.4e-3 (rounded
    /// vs unrounded model), and llama.cpp's residual measures 3.5e-3 (prefill and decode; its own prefill and decode
    /// differ by 1.8e-3). The bound allows about 3× that, still 60× below the logits' spread (std 0.64, max 2.4).
    /// That bound alone cannot tell the rounded from the unrounded model (5.1e-3 away), so the rounding is checked by
    /// regression: llama.cpp's deviation from the unrounded model, projected on the deviation our rounding predicts,
    /// has slope 1.01 (0 would mean llama.cpp saw unrounded weights, as the F32 export gives exactly). The same weights
    /// rounded to bfloat16 instead (3 mantissa bits fewer) must fail the bound: they are 3.0e-2 away.
    /// </summary>
    [Fact]
    public void Llama_cpp_on_an_f16_export_matches_our_engine_on_half_rounded_weights()
    {
        const double f16Tolerance = 1e-2;
        var (model, tokens, prefill, decode) = RunPeerOnExport(GgufTensorType.F16);
        using var _ = model;

        float[][] unrounded = OurPrefill(model, tokens);
        RoundExportedWeights(model, ScalarType.Float16);
        float[][] rounded = OurPrefill(model, tokens);
        double prefillDiff = MaxAbsDiff(rounded, prefill), decodeDiff = MaxAbsDiff(OurCachedDecode(model, tokens), decode);
        double slope = Slope(prefill, unrounded, rounded);
        RoundExportedWeights(model, ScalarType.BFloat16);
        double control = MaxAbsDiff(OurPrefill(model, tokens), prefill);
        log.WriteLine($"max abs diff prefill {prefillDiff:E2}, decode {decodeDiff:E2}; unrounded model {MaxAbsDiff(unrounded, prefill):E2}; " +
                      $"rounding slope {slope:F3}; bfloat16 control {control:E2}");
        Assert.True(prefillDiff <= f16Tolerance, $"prefill: max abs diff {prefillDiff:E3} > {f16Tolerance}");
        Assert.True(decodeDiff <= f16Tolerance, $"decode: max abs diff {decodeDiff:E3} > {f16Tolerance}");
        Assert.InRange(slope, 0.8, 1.2);
        Assert.True(control > f16Tolerance, $"bfloat16 weights are only {control:E3} away");
    }

    /// <summary>
    /// Q8_0 export. llama.cpp's CPU matmul with Q8_0 weights quantizes its F32 input to Q8_0 too (blocks of 32 along
    /// the row, int8 with an F16 scale) and multiplies in integers, so besides the weights every matmul's activations
    /// are rounded to ~1/254 of their block's largest value. Our reference is our F32 forward over the weights rounded
    /// exactly as the export rounds them (<see cref="Q8Blocks"/>; F16 where a row is not whole blocks); what is left is
    /// the activation rounding, which moves the logits by about half what the weight rounding does. Measured per
    /// position (the largest |Δlogit| over the vocabulary): median 0.034 (prefill and decode), against 0.055 for the
    /// unrounded model and 0.066 for the weight rounding alone, with logits spread to ±2.4. One position of 48 jumps to
    /// 0.64: there the rounded activations flip a near-tie between two experts, which a tolerance on every position
    /// cannot allow without becoming meaningless. So: at most a tenth of the positions above 0.1 (3× the median
    /// residual); the regression slope near 1 shows llama.cpp saw our rounded weights; and the unrounded F32 weights
    /// must be farther from llama.cpp than the Q8_0-rounded ones.
    /// </summary>
    [Fact]
    public void Llama_cpp_on_a_q8_0_export_matches_our_engine_on_q8_rounded_weights()
    {
        const double typicalBound = 0.1;
        var (model, tokens, prefill, decode) = RunPeerOnExport(GgufTensorType.Q8_0);
        using var _ = model;

        float[][] unrounded = OurPrefill(model, tokens);
        RoundQ8ExportedWeights(model);
        float[][] rounded = OurPrefill(model, tokens);
        double[] prefillDiffs = PositionDiffs(rounded, prefill), decodeDiffs = PositionDiffs(OurCachedDecode(model, tokens), decode);
        double[] unroundedDiffs = PositionDiffs(unrounded, prefill);
        double slope = Slope(prefill, unrounded, rounded);
        log.WriteLine($"q8_0 per position, prefill: {string.Join(" ", prefillDiffs.Select(d => d.ToString("F3")))}");
        log.WriteLine($"q8_0: median per-position max abs diff prefill {Median(prefillDiffs):E2}, decode {Median(decodeDiffs):E2}, " +
                      $"unrounded model {Median(unroundedDiffs):E2}; weight rounding alone {MaxAbsDiff(unrounded, rounded):E2}; slope {slope:F3}");
        foreach (var (what, diffs) in new[] { ("prefill", prefillDiffs), ("decode", decodeDiffs) })
        {
            int outside = diffs.Count(d => d > typicalBound);
            Assert.True(outside <= diffs.Length / 10, $"{what}: {outside} of {diffs.Length} positions differ by more than {typicalBound}");
        }
        Assert.InRange(slope, 0.8, 1.2);
        Assert.True(Median(unroundedDiffs) > Median(prefillDiffs),
            $"the unrounded weights are as close (median {Median(unroundedDiffs):E3}) as the Q8_0-rounded ones ({Median(prefillDiffs):E3})");
    }

    /// <summary>Exports the random model as <paramref name="type"/> and runs llama.cpp on it: its prefill logits and
    /// its stepwise cached-decode logits at every position. The caller owns the model.</summary>
    private (DeepSeekV3ForCausalLM Model, long[] Tokens, float[][] Prefill, float[][] Decode) RunPeerOnExport(GgufTensorType type)
    {
        var (model, gguf) = ExportRandomModel(type);
        long[] tokens = Tokens();
        using var peer = new LlamaCppPeer(gguf, threads: 1);
        return (model, tokens, peer.Prefill(tokens), peer.DecodeStepwise(tokens));
    }

    private static double[] PositionDiffs(float[][] a, float[][] b) =>
        a.Select((row, p) => row.Zip(b[p]).Max(x => Math.Abs((double)x.First - x.Second))).ToArray();

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Rounds, in place, each matrix the Q8_0 export stores as Q8_0 (rows of whole 32-value blocks) through
    /// <see cref="Q8Blocks"/>, and the matrices it stores as F16 to half; vectors and the router stay F32. kv_b_proj is
    /// exported split and transposed (attn_k_b, attn_v_b); with this config's ranks neither part has whole blocks, so
    /// it goes to F16 whole.</summary>
    private static void RoundQ8ExportedWeights(DeepSeekV3ForCausalLM model)
    {
        Assert.True(Config.KvLoraRank % Q8Blocks.BlockSize != 0 && Config.QkNopeHeadDim % Q8Blocks.BlockSize != 0,
            "this rounding assumes kv_b_proj's exported parts fall back to F16");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
        {
            if (parameter.dim() < 2 || name.EndsWith(".mlp.gate.weight", StringComparison.Ordinal)) continue;
            if (name.EndsWith("kv_b_proj.weight", StringComparison.Ordinal) || parameter.shape[^1] % Q8Blocks.BlockSize != 0)
            {
                parameter.copy_(parameter.to(ScalarType.Float16).to(ScalarType.Float32));
                continue;
            }
            float[] values = parameter.contiguous().data<float>().ToArray();
            byte[] blocks = new byte[GgufTensorType.Q8_0.ByteLength(values.Length)];
            Q8Blocks.Quantize(values, blocks);
            parameter.copy_(tensor(Q8Blocks.Dequantize(blocks)).view(parameter.shape));
        }
    }

    /// <summary>Rounds, in place, what the F16 export stores as F16 (every matrix but the router; vectors and the
    /// router stay F32, see <see cref="DeepSeek2Tensors"/>) to <paramref name="half"/> and back.</summary>
    private static void RoundExportedWeights(DeepSeekV3ForCausalLM model, ScalarType half)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (name, parameter) in model.named_parameters())
            if (parameter.dim() >= 2 && !name.EndsWith(".mlp.gate.weight", StringComparison.Ordinal))
                parameter.copy_(parameter.to(half).to(ScalarType.Float32));
    }

    /// <summary>Least-squares slope of (peer − unrounded) on (rounded − unrounded), over all logits.</summary>
    private static double Slope(float[][] peer, float[][] unrounded, float[][] rounded)
    {
        double product = 0, norm = 0;
        for (int p = 0; p < peer.Length; p++)
            for (int v = 0; v < peer[p].Length; v++)
            {
                double observed = peer[p][v] - (double)unrounded[p][v], predicted = rounded[p][v] - (double)unrounded[p][v];
                product += observed * predicted;
                norm += predicted * predicted;
            }
        return product / norm;
    }

    /// <summary>Negative controls: each omission silently switches a V3 feature off in llama.cpp (reference note,
    /// pitfall 2), so each must push the same comparison far past the tolerance.</summary>
    [Theory]
    [InlineData("deepseek2.expert_weights_scale")]     // routed_scaling_factor → 1
    [InlineData("deepseek2.expert_group_count")]       // no group-limited routing
    [InlineData("deepseek2.expert_gating_func")]       // softmax instead of sigmoid
    [InlineData("deepseek2.rope.scaling.type")]        // no YaRN
    [InlineData("blk.1.exp_probs_b.bias")]             // no correction bias in the first MoE layer
    public void Export_missing_a_feature_fails_the_same_comparison(string left_out)
    {
        var (model, gguf) = ExportRandomModel();
        using var _ = model;
        string wrong = _temp.File("wrong.gguf");
        CopyWithout(gguf, wrong, left_out);
        long[] tokens = Tokens();
        using var peer = new LlamaCppPeer(wrong);
        double diff = MaxAbsDiff(OurPrefill(model, tokens), peer.Prefill(tokens));
        log.WriteLine($"negative control without {left_out}: max abs diff {diff:E2}");
        Assert.True(diff > 100 * Tolerance, $"without {left_out} llama.cpp still differs by only {diff:E3}");
    }

    internal static float[][] OurPrefill(DeepSeekV3ForCausalLM model, long[] tokens)
    {
        using var scope = NewDisposeScope();
        using var __ = no_grad();
        var output = model.Forward(tensor(tokens).unsqueeze(0), new ForwardContext { Mode = AttentionMode.Absorbed });
        return Rows(output.Logits[0]);
    }

    internal static float[][] OurCachedDecode(DeepSeekV3ForCausalLM model, long[] tokens)
    {
        using var cache = new ContiguousLatentCache(model.Config.NumHiddenLayers);
        using var __ = no_grad();
        var rows = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++)
        {
            using var scope = NewDisposeScope();
            var output = model.Forward(tensor(new[] { tokens[i] }).unsqueeze(0),
                new ForwardContext { Mode = AttentionMode.Absorbed, Cache = cache });
            rows[i] = Rows(output.Logits[0])[0];
        }
        return rows;
    }

    private static float[][] Rows(Tensor logits) =>                                           // [seq, vocab]
        Enumerable.Range(0, (int)logits.shape[0]).Select(p => logits[p].to(ScalarType.Float32).data<float>().ToArray()).ToArray();

    internal static double MaxAbsDiff(float[][] a, float[][] b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int p = 0; p < a.Length; p++)
        {
            Assert.Equal(a[p].Length, b[p].Length);
            for (int v = 0; v < a[p].Length; v++)
                max = Math.Max(max, Math.Abs((double)a[p][v] - b[p][v]));
        }
        return max;
    }

    /// <summary>Rewrites a GGUF file with one metadata key or tensor left out, everything else unchanged.</summary>
    private static void CopyWithout(string source, string destination, string leftOut)
    {
        var file = GgufFile.Read(source);
        Assert.True(file.Metadata.ContainsKey(leftOut) || file.Tensors.Any(t => t.Name == leftOut), leftOut);
        var writer = new GgufWriter();
        foreach (string k in file.Keys.Where(k => k != leftOut))
            writer.Add(k, file.Metadata[k]);
        foreach (var info in file.Tensors.Where(t => t.Name != leftOut))
            writer.AddTensor(info.Name, info.TorchShape, info.Type, () => tensor(file.ReadFloats(info.Name)).reshape(info.TorchShape));
        using var stream = File.Create(destination);
        writer.WriteTo(stream);
    }
}
