using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Fused;
using DeepSeekV3.Kernels;
using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Inference;

/// <summary>
/// Each op the fused decoder re-implements, against the <see cref="Modeling"/> module it mirrors, on the same weights
/// and inputs (STYLE.md, "One definition, fast paths that mirror it"). Shapes are odd on purpose — widths that are
/// not multiples of the kernels' 16 lanes, odd row counts, a paged cache whose last block is partial — so every
/// vector tail runs. Routing has its own parity test (Modeling/RoutingRuleTests); the whole decoder, MTP included, is
/// held to the model in FusedDecoderTests.
/// </summary>
/// <remarks>
/// Tolerances come from fp32 rounding (unit roundoff u = 2⁻²⁴ ≈ 6e-8): the two sides compute the same formula in
/// different summation orders, so they differ by a few u per rounding step times the size of what is summed, which
/// for these lengths (≤ 82 terms) stays below 1e-6 relative; each bound below leaves a margin of ten or more over that
/// and is still orders of magnitude below what a wrong term (a dropped eps, a flipped sign, a skipped column) costs.
/// bf16 weights or cache rows are widened exactly to fp32 by the kernels, so those cases compare against fp32
/// modules holding the same rounded values and keep the fp32 bounds.
/// </remarks>
public unsafe class FusedOpParityTests
{
    private static float[] Floats(Tensor t) => t.detach().to(ScalarType.Float32).contiguous().data<float>().ToArray();

    private static Tensor Random(long[] shape, ulong seed, double std = 1.0)
    {
        using var generator = new Generator(seed);
        return randn(shape, ScalarType.Float32, generator: generator) * std;
    }

    [Theory]
    [InlineData(40, 1, false)]
    [InlineData(72, 3, false)]
    [InlineData(7, 7, false)]
    [InlineData(40, 3, true)]
    [InlineData(72, 7, true)]
    public void RmsNorm_rows_equal_the_module(int size, int rows, bool bf16Weight)
    {
        const double eps = 1e-6;
        using var scope = NewDisposeScope();
        using var norm = new RmsNorm(size, eps);
        using (no_grad()) norm.Weight.copy_(Random([size], seed: 1, std: 0.5) + 1);
        if (bf16Weight) norm.to(ScalarType.BFloat16);
        // Rows of very different magnitudes: the first one's mean square (1e-6) is as large as eps, so eps matters.
        var x = Random([rows, size], seed: 2) * pow(10.0, arange(rows, ScalarType.Float32) % 4 - 3).unsqueeze(1);
        var expected = Floats(norm.forward(x));      // fp32 input, bf16 weight: the product promotes to fp32

        var input = Floats(x);
        var weight = new TensorWeights(new Dictionary<string, Tensor> { ["w"] = norm.Weight }, "test").Vector("w")!; // widened to fp32, as the fused layer takes norms
        var actual = new float[rows * size];
        fixed (float* px = input, pw = weight, py = actual)
            for (int i = 0; i < rows; i++)
                RowMath.RmsNorm(px + i * size, pw, py + i * size, size, (float)eps);

        // Every output is w_j·x_j·s with one scale s per row; s differs by the order of summing ≤ 72 positive squares
        // ((n−1)·u ≤ 4.3e-6 at worst) and a rounding or two, so the relative difference is ≤ ~5e-6 per element.
        for (int j = 0; j < actual.Length; j++)
            Assert.True(Math.Abs(actual[j] - expected[j]) <= 1e-5 * Math.Abs(expected[j]), $"element {j}: {actual[j]:R} vs {expected[j]:R}");
    }

    /// <summary>The RoPE of <paramref name="ropeDim"/> dims under YaRN factor <paramref name="factor"/> over
    /// <paramref name="maxPositions"/> positions; mscale_all_dim = 0 gives an attention factor ≠ 1.</summary>
    private static ModelConfig RopeConfig(int ropeDim, int maxPositions, double factor, double mscaleAllDim) => ModelPresets.Tiny with
    {
        QkRopeHeadDim = ropeDim,
        MaxPositionEmbeddings = maxPositions,
        RopeScaling = new RopeScaling
        {
            Type = "yarn",
            Factor = factor,
            OriginalMaxPositionEmbeddings = (int)(maxPositions / factor),
            BetaFast = 32,
            BetaSlow = 1,
            Mscale = 1.0,
            MscaleAllDim = mscaleAllDim,
        },
    };

    [Theory]
    [InlineData(6, 4096, 4.0, 0.0)]
    [InlineData(10, 4096, 4.0, 1.0)]
    [InlineData(10, 163840, 40.0, 0.0)]      // V3's context and factor
    [InlineData(6, 512, 1.0, 1.0)]           // factor 1: YaRN leaves the frequencies alone
    public void Rope_angles_and_rotation_equal_the_module_up_to_the_last_position(int ropeDim, int maxPositions, double factor, double mscaleAllDim)
    {
        var config = RopeConfig(ropeDim, maxPositions, factor, mscaleAllDim);
        var rope = new YarnRotaryEmbedding(config);
        int original = config.RopeScaling!.OriginalMaxPositionEmbeddings, pairs = ropeDim / 2, heads = 3;
        long[] positions = [0, 1, 5, original - 1, original, maxPositions - 3, maxPositions - 1];
        int rows = positions.Length;
        using var scope = NewDisposeScope();
        var x = Random([1, rows, heads, ropeDim], seed: 3);
        var (cos, sin) = rope.Angles(tensor(positions).view(1, rows));          // [1, rows, 1, pairs]
        var expected = Floats(YarnRotaryEmbedding.Apply(x, cos, sin));

        // As FusedDecoder and FusedStep take them: the module's inverse frequencies and attention factor in fp32.
        var inverseFrequencies = rope.InverseFrequencies.ToArray();
        float attentionFactor = (float)rope.AttentionFactor;
        var actualCos = new float[rows * pairs];
        var actualSin = new float[rows * pairs];
        var actual = Floats(x);
        fixed (float* c = actualCos, s = actualSin, y = actual)
            for (int i = 0; i < rows; i++)
            {
                RowMath.RopeAngles(positions[i], inverseFrequencies, attentionFactor, c + i * pairs, s + i * pairs);
                for (int head = 0; head < heads; head++)   // as FusedLayer rotates every head's q_pe
                    RowMath.Rotate(y + (i * heads + head) * ropeDim, c + i * pairs, s + i * pairs, pairs);
            }

        // Both sides round position·θ to the same fp32 angle (positions < 2²⁴ are exact), so cos and sin differ only
        // by the two libraries' last-ulp errors: ≤ 2 ulp of 1 ≈ 2.4e-7 times the attention factor. A rotated value
        // a·cos − b·sin then differs by ≤ 2·max|x|·2.4e-7·factor plus two roundings.
        double angleBound = 1e-6 * attentionFactor;
        var (expectedCos, expectedSin) = (Floats(cos), Floats(sin));
        for (int j = 0; j < rows * pairs; j++)
        {
            Assert.True(Math.Abs(actualCos[j] - expectedCos[j]) <= angleBound, $"cos {j}: {actualCos[j]:R} vs {expectedCos[j]:R}");
            Assert.True(Math.Abs(actualSin[j] - expectedSin[j]) <= angleBound, $"sin {j}: {actualSin[j]:R} vs {expectedSin[j]:R}");
        }
        double bound = 2e-6 * attentionFactor * Floats(x).Max(Math.Abs);
        for (int j = 0; j < actual.Length; j++)
            Assert.True(Math.Abs(actual[j] - expected[j]) <= bound, $"element {j}: {actual[j]:R} vs {expected[j]:R}");
    }

    [Theory]
    [InlineData(40, 24, 1, false)]
    [InlineData(72, 40, 3, false)]
    [InlineData(40, 72, 7, true)]
    [InlineData(72, 24, 3, true)]
    public void SwiGlu_expert_equals_the_module(int hidden, int intermediate, int rows, bool bf16Weights)
    {
        using var scope = NewDisposeScope();
        using var reference = new SwiGluMlp(hidden, intermediate);
        using var weights = new SwiGluMlp(hidden, intermediate);
        WeightInitializer.Initialize(reference, seed: 4, std: 0.2);
        WeightInitializer.Initialize(weights, seed: 4, std: 0.2);
        if (bf16Weights)
        {
            // The fused kernels read the bf16 weights; the reference holds the same rounded values in fp32.
            weights.to(ScalarType.BFloat16);
            using (no_grad())
                foreach (var (name, p) in reference.named_parameters())
                    p.copy_(weights.get_parameter(name)!.to(ScalarType.Float32));
        }
        var x = Random([rows, hidden], seed: 5);
        var expected = Floats(reference.forward(x));

        var mlp = (new WeightMatrix(weights.GateProj.Weight, "gate_proj.weight"), new WeightMatrix(weights.UpProj.Weight, "up_proj.weight"),
                   new WeightMatrix(weights.DownProj.Weight, "down_proj.weight"));
        var input = Floats(x);
        var actual = new float[rows * hidden];
        var gate = new float[rows * intermediate];
        var up = new float[rows * intermediate];
        fixed (float* px = input, py = actual, pg = gate, pu = up)
            FusedLayer.SwiGlu(mlp, px, rows, py, team: null, pg, pu);

        // Three fp32 matrix products of ≤ 72 terms in different summation orders (≲ √k·u ≈ 5e-7 of the terms' size,
        // about the outputs' size here) and SiLU's exp (≤ 2 ulp, RowMath.Exp) between them.
        double bound = 1e-5 * expected.Max(Math.Abs);
        for (int j = 0; j < actual.Length; j++)
            Assert.True(Math.Abs(actual[j] - expected[j]) <= bound, $"element {j}: {actual[j]:R} vs {expected[j]:R}");
    }

    [Theory]
    [InlineData(40, 6, 3, 0, 3, 1, 4, false)]       // a single key
    [InlineData(40, 6, 7, 2, 7, 10, 4, false)]      // 3 blocks, the last half full; five of seven heads (4 + 1)
    [InlineData(72, 10, 18, 0, 18, 7, 3, false)]    // more heads than Gemv.MaxRows
    [InlineData(40, 6, 7, 0, 7, 10, 4, true)]       // bf16 cache rows
    [InlineData(24, 10, 5, 1, 4, 13, 4, true)]
    public void Latent_attention_over_the_paged_cache_equals_the_absorbed_formula(int rank, int ropeDim, int heads,
        int headFirst, int headLast, int keys, int blockSize, bool bf16Cache)
    {
        var config = ModelPresets.Tiny with { KvLoraRank = rank, QkRopeHeadDim = ropeDim, NumAttentionHeads = heads };
        int width = rank + ropeDim;
        const float scale = 0.3f;
        using var scope = NewDisposeScope();
        var latent = Random([1, keys, rank], seed: 6);
        var ropeKey = Random([1, keys, ropeDim], seed: 7);
        var query = Random([heads, width], seed: 8);    // per head [absorbed latent query ; rotated q_pe]

        // Sequence `a` is written three positions at a time, interleaved with another sequence, so its block table
        // is not contiguous in the pool.
        using var cache = new PagedLatentCache(config, layers: 1, bf16Cache ? ScalarType.BFloat16 : ScalarType.Float32, CPU, blockSize);
        int a = cache.AddSequence(), other = cache.AddSequence();
        for (int first = 0; first < keys; first += 3)
        {
            int count = Math.Min(3, keys - first);
            cache.SetBatch(a);
            cache.Append(0, latent.narrow(1, first, count), ropeKey.narrow(1, first, count));
            cache.SetBatch(other);
            cache.Append(0, Random([1, count, rank], seed: 9), Random([1, count, ropeDim], seed: 10));
        }
        if (cache.Blocks(a).Count > 1)
            Assert.NotEqual(Enumerable.Range(cache.Blocks(a)[0], cache.Blocks(a).Count), cache.Blocks(a));

        // MultiHeadLatentAttention.AttendAbsorbed's formula on what the cache holds (bf16-rounded rows when bf16):
        // scores = (q_latent·c_kvᵀ + q_pe·k_peᵀ)·scale, softmax over keys, out = p·c_kv.
        var dtype = bf16Cache ? ScalarType.BFloat16 : ScalarType.Float32;
        var stored = latent[0].to(dtype).to(ScalarType.Float32);                   // [keys, r_kv]
        var storedRope = ropeKey[0].to(dtype).to(ScalarType.Float32);              // [keys, d_r]
        var scores = (query.narrow(1, 0, rank).matmul(stored.t()) + query.narrow(1, rank, ropeDim).matmul(storedRope.t())) * scale;
        var expected = Floats(scores.softmax(-1).matmul(stored));                  // [heads, r_kv]

        var q = Floats(query);
        int stride = keys + 3;                        // a score row longer than the keys, as a batch's longest row
        var scoreRows = new float[heads * stride];
        var temp = new float[Gemv.MaxRows * blockSize];
        var actual = Enumerable.Repeat(float.NaN, heads * rank).ToArray();   // heads outside the range stay untouched
        var pages = new LatentAttention.Pages(cache.Pool(0), cache.IsBf16, rank, ropeDim, blockSize, cache.Blocks(a));
        fixed (float* pq = q, po = actual, ps = scoreRows, pt = temp)
            LatentAttention.Attend(pages, keys, pq, po, headFirst, headLast, ps, stride, pt, scale);

        // Scores are fp32 dots of ≤ 82 terms summed in different orders (|q|, |c| ~ 1, so Σ|q·c| ≲ 80 and the sums
        // differ by ≲ √k·u·80 ≈ 4e-6), scaled by 0.3; an absolute score difference ε moves each probability by ≲ 2ε
        // relative, and the output is a convex combination of latent rows: ≲ 3e-6·max|c| apart, 1e-5 as the bound.
        double bound = 1e-5 * Floats(stored).Max(Math.Abs);
        for (int h = 0; h < heads; h++)
            for (int c = 0; c < rank; c++)
            {
                int j = h * rank + c;
                if (h < headFirst || h >= headLast)
                    Assert.True(float.IsNaN(actual[j]), $"head {h} is outside [{headFirst}, {headLast}) but was written");
                else
                    Assert.True(Math.Abs(actual[j] - expected[j]) <= bound, $"head {h}, latent dim {c}: {actual[j]:R} vs {expected[j]:R}");
            }
    }
}
