using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

/// <summary>
/// DeepSeek-V3 written out with plain loops in double precision from the technical report's equations, reading a
/// model's weights by their checkpoint names as double arrays and calling none of its modules: an expectation
/// independent of <c>Modeling/</c>. One sequence at a time, positions 0..s−1. Slow by design; tiny configs only.
/// </summary>
internal sealed class ReferenceModel
{
    private readonly ModelConfig _c;
    private readonly Dictionary<string, double[]> _w;
    private readonly double[] _inverseFrequencies;
    private readonly double _softmaxScale, _attentionFactor;

    public ReferenceModel(DeepSeekV3ForCausalLM model)
    {
        _c = model.Config;
        _w = model.state_dict().ToDictionary(p => p.Key, p =>
        {
            using var values = p.Value.detach().to(ScalarType.Float64).contiguous();
            return values.data<double>().ToArray();
        });
        (_inverseFrequencies, _softmaxScale, _attentionFactor) = Rope(_c);
    }

    /// <summary>
    /// RoPE frequencies θ_i = base^(−2i/d_r) with YaRN's correction (Peng et al. 2023, "YaRN", §3: the NTK-by-parts
    /// ramp between the dims that complete beta_fast and beta_slow turns over the original context, and the
    /// temperature 0.1·ln(s) + 1); report §4.3 for DeepSeek-V3's settings. Returns θ, the q·k scale
    /// (eq. 10's 1/sqrt(d_h + d_h^R), times mscale² under YaRN) and the cos/sin multiplier.
    /// </summary>
    private static (double[] Inverse, double Scale, double CosSinFactor) Rope(ModelConfig c)
    {
        int d = c.QkRopeHeadDim;
        var inverse = Enumerable.Range(0, d / 2).Select(i => Math.Pow(c.RopeTheta, -2.0 * i / d)).ToArray();
        double scale = 1 / Math.Sqrt(c.QkHeadDim), factor = 1;
        if (c.RopeScaling is { Kind: "yarn" } y)
        {
            double Dim(double turns) => d * Math.Log(y.OriginalMaxPositionEmbeddings / (turns * 2 * Math.PI)) / (2 * Math.Log(c.RopeTheta));
            double low = Math.Max(Math.Floor(Dim(y.BetaFast)), 0), high = Math.Min(Math.Ceiling(Dim(y.BetaSlow)), d - 1);
            if (low == high) high += 0.001;
            for (int i = 0; i < inverse.Length; i++)
            {
                double interpolate = Math.Clamp((i - low) / (high - low), 0, 1);
                inverse[i] = (1 - interpolate) * inverse[i] + interpolate * inverse[i] / y.Factor;
            }
            double M(double m) => y.Factor <= 1 ? 1 : 0.1 * m * Math.Log(y.Factor) + 1;
            if (y.MscaleAllDim != 0)
                scale *= M(y.MscaleAllDim) * M(y.MscaleAllDim);
            factor = M(y.Mscale) / M(y.MscaleAllDim);
        }
        return (inverse, scale, factor);
    }

    /// <summary>The main model (eqs. 1-16 per block): final normed hidden states h^0 [s][hidden] and logits [s][V].</summary>
    public (double[][] Hidden, double[][] Logits) Main(IReadOnlyList<long> tokens)
    {
        var h = tokens.Select(Embed).ToArray();
        for (int layer = 0; layer < _c.NumHiddenLayers; layer++)
            h = Block(layer, h);
        var final = h.Select(x => RmsNorm("model.norm.weight", x)).ToArray();
        return (final, final.Select(x => Linear("lm_head.weight", x)).ToArray());
    }

    /// <summary>
    /// MTP module k (eqs. 21-23): h' = M_k [RMSNorm(Emb(t_{i+k})) ; RMSNorm(h^{k−1}_i)] — embedding first, the
    /// order of the released weights (the report's eq. 21 writes the hidden state first) — then the block TRM_k,
    /// then the shared head after the module's own RMSNorm. Returns h^k (before that norm) and the logits.
    /// </summary>
    public (double[][] Hidden, double[][] Logits) Mtp(int depth, double[][] previous, IReadOnlyList<long> nextTokens)
    {
        int layer = _c.NumHiddenLayers + depth - 1;
        string p = $"model.layers.{layer}.";
        var combined = previous.Select((h, i) =>
            Linear(p + "eh_proj.weight", [.. RmsNorm(p + "enorm.weight", Embed(nextTokens[i])), .. RmsNorm(p + "hnorm.weight", h)])).ToArray();
        var hk = Block(layer, combined);
        return (hk, hk.Select(x => Linear("lm_head.weight", RmsNorm(p + "shared_head.norm.weight", x))).ToArray());
    }

    /// <summary>Pre-norm block: h += MLA(RMSNorm(h)); h += FFN(RMSNorm(h)).</summary>
    private double[][] Block(int layer, double[][] h)
    {
        string p = $"model.layers.{layer}.";
        var attention = Attention(p + "self_attn.", h.Select(x => RmsNorm(p + "input_layernorm.weight", x)).ToArray());
        var u = h.Select((x, t) => Add(x, attention[t])).ToArray();
        bool moe = layer < _c.NumHiddenLayers ? _c.IsMoeLayer(layer) : _c.NRoutedExperts > 0;
        return u.Select(x =>
        {
            var normed = RmsNorm(p + "post_attention_layernorm.weight", x);
            return Add(x, moe ? Moe(p + "mlp.", normed) : SwiGlu(p + "mlp.", normed));
        }).ToArray();
    }

    /// <summary>Multi-head Latent Attention, eqs. (1)-(11), without matrix absorption.</summary>
    private double[][] Attention(string p, double[][] x)
    {
        int s = x.Length, heads = _c.NumAttentionHeads, dn = _c.QkNopeHeadDim, dr = _c.QkRopeHeadDim, dv = _c.VHeadDim;
        int r = _c.KvLoraRank, dqk = dn + dr;
        var q = new double[s][];
        var kPe = new double[s][];
        var kv = new double[s][];
        for (int t = 0; t < s; t++)
        {
            q[t] = _c.HasQueryCompression                                                     // eqs. (6)-(7)
                ? Linear(p + "q_b_proj.weight", RmsNorm(p + "q_a_layernorm.weight", Linear(p + "q_a_proj.weight", x[t])))
                : Linear(p + "q_proj.weight", x[t]);
            var compressed = Linear(p + "kv_a_proj_with_mqa.weight", x[t]);                   // [c_kv ; k^R], eqs. (1), (3)
            kv[t] = Linear(p + "kv_b_proj.weight", RmsNorm(p + "kv_a_layernorm.weight", compressed[..r]));  // eqs. (2), (5)
            kPe[t] = Rotate(compressed[r..], t);
            for (int h = 0; h < heads; h++)
                Rotate(q[t], h * dqk + dn, t);                                                // eq. (8)
        }
        var output = new double[s][];
        for (int t = 0; t < s; t++)
        {
            output[t] = new double[heads * dv];
            for (int h = 0; h < heads; h++)
            {
                var logits = new double[t + 1];                                               // causal: keys 0..t
                for (int j = 0; j <= t; j++)
                {
                    double dot = 0;
                    for (int i = 0; i < dn; i++) dot += q[t][h * dqk + i] * kv[j][h * (dn + dv) + i];
                    for (int i = 0; i < dr; i++) dot += q[t][h * dqk + dn + i] * kPe[j][i];
                    logits[j] = dot * _softmaxScale;                                          // eq. (10)
                }
                double max = logits.Max(), total = logits.Sum(l => Math.Exp(l - max));
                for (int j = 0; j <= t; j++)
                {
                    double weight = Math.Exp(logits[j] - max) / total;
                    for (int i = 0; i < dv; i++) output[t][h * dv + i] += weight * kv[j][h * (dn + dv) + dn + i];
                }
            }
        }
        return output.Select(o => Linear(p + "o_proj.weight", o)).ToArray();                   // eq. (11)
    }

    /// <summary>Rotates adjacent pairs (2i, 2i+1) of v[offset..offset+d_r] in place by position·θ_i.</summary>
    private void Rotate(double[] v, int offset, int position)
    {
        for (int i = 0; i < _inverseFrequencies.Length; i++)
        {
            double angle = position * _inverseFrequencies[i];
            double cos = Math.Cos(angle) * _attentionFactor, sin = Math.Sin(angle) * _attentionFactor;
            double even = v[offset + 2 * i], odd = v[offset + 2 * i + 1];
            v[offset + 2 * i] = even * cos - odd * sin;
            v[offset + 2 * i + 1] = even * sin + odd * cos;
        }
    }

    private double[] Rotate(double[] v, int position)
    {
        var copy = (double[])v.Clone();
        Rotate(copy, 0, position);
        return copy;
    }

    /// <summary>DeepSeekMoE, eqs. (12)-(16): shared experts plus the gate-weighted chosen routed experts.</summary>
    private double[] Moe(string p, double[] u)
    {
        var scores = ReferenceRouting.Scores(_c, Linear(p + "gate.weight", u));
        var bias = _w.TryGetValue(p + "gate.e_score_correction_bias", out var b) ? b : new double[_c.NRoutedExperts];
        var (_, experts) = ReferenceRouting.Choose(_c, scores, bias);
        var gates = ReferenceRouting.Weights(_c, scores, experts);
        var output = _c.NSharedExperts > 0 ? SwiGlu(p + "shared_experts.", u) : new double[u.Length];
        for (int k = 0; k < experts.Length; k++)
        {
            var expert = SwiGlu($"{p}experts.{experts[k]}.", u);
            for (int i = 0; i < output.Length; i++) output[i] += gates[k] * expert[i];
        }
        return output;
    }

    private double[] SwiGlu(string p, double[] x)
    {
        var gate = Linear(p + "gate_proj.weight", x);
        var up = Linear(p + "up_proj.weight", x);
        return Linear(p + "down_proj.weight", gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray());
    }

    private double[] Embed(long token) =>
        _w["model.embed_tokens.weight"].AsSpan((int)token * _c.HiddenSize, _c.HiddenSize).ToArray();

    private double[] RmsNorm(string weight, double[] x)
    {
        double rms = Math.Sqrt(x.Sum(v => v * v) / x.Length + _c.RmsNormEps);
        var w = _w[weight];
        return x.Select((v, i) => w[i] * v / rms).ToArray();
    }

    /// <summary>y = W·x for a checkpoint weight W [out, in].</summary>
    private double[] Linear(string weight, double[] x)
    {
        var w = _w[weight];
        int rows = w.Length / x.Length;
        var y = new double[rows];
        for (int o = 0; o < rows; o++)
        {
            double sum = 0;
            for (int i = 0; i < x.Length; i++) sum += w[o * x.Length + i] * x[i];
            y[o] = sum;
        }
        return y;
    }

    private static double[] Add(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();
}
