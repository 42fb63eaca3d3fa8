using DeepSeekV3.Configuration;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Rotary position embedding on the decoupled qk_rope_head_dim dims, with YaRN frequency correction when the config
/// has <c>rope_scaling.type = "yarn"</c> (report §4.3; docs/reference-notes.md#yarn). Follows HF: YaRN is applied whenever the
/// config asks for it (DeepSeek's demo applies it only when its max_seq_len exceeds the original length).
/// Pairs are ADJACENT dims (2i, 2i+1), the layout the released weights are trained with (docs/reference-notes.md#rope-pair-layout).
/// </summary>
public sealed class YarnRotaryEmbedding
{
    public YarnRotaryEmbedding(ModelConfig config)
    {
        int dim = config.QkRopeHeadDim;
        double theta = config.RopeTheta;
        var inv = new double[dim / 2];
        for (int i = 0; i < inv.Length; i++)
            inv[i] = 1.0 / Math.Pow(theta, 2.0 * i / dim);

        SoftmaxScale = 1.0 / Math.Sqrt(config.QkHeadDim);  // eq. (10): 1/sqrt(d_h + d_h^R)
        if (config.RopeScaling is { Kind: "yarn" } yarn)
        {
            (double low, double high) = CorrectionRange(yarn, dim, theta);
            Low = low;
            High = high;
            for (int i = 0; i < inv.Length; i++)
            {
                // ramp = 0 keeps the high-frequency dims as they are, ramp = 1 interpolates the low ones by 1/s.
                double ramp = Math.Clamp((i - low) / (high - low), 0.0, 1.0);
                inv[i] = inv[i] * (1 - ramp) + inv[i] / yarn.Factor * ramp;
            }
            // YaRN's attention temperature sqrt(t) = 0.1 ln s + 1 multiplies q and k, hence m² on the logits.
            if (yarn.MscaleAllDim != 0)
            {
                double m = Mscale(yarn.Factor, yarn.MscaleAllDim);
                SoftmaxScale *= m * m;
            }
            AttentionFactor = Mscale(yarn.Factor, yarn.Mscale) / Mscale(yarn.Factor, yarn.MscaleAllDim);
        }
        InverseFrequencies = inv.Select(v => (float)v).ToArray();
    }

    /// <summary>θ_i per rotated pair (after YaRN correction), fp32 as the reference computes them.</summary>
    public IReadOnlyList<float> InverseFrequencies { get; }

    /// <summary>Scale applied to q·k: d_qk^-1/2, times mscale² under YaRN (0.13523378 for V3).</summary>
    public double SoftmaxScale { get; }

    /// <summary>Multiplier on cos/sin (HF's attention_factor); 1 for every published DeepSeek config.</summary>
    public double AttentionFactor { get; } = 1.0;

    /// <summary>YaRN correction range [low, high] in pair indices (10 and 23 for V3); NaN without YaRN.</summary>
    public double Low { get; } = double.NaN;
    public double High { get; } = double.NaN;

    /// <summary>yarn_get_mscale: 0.1·m·ln(s) + 1 for s > 1, else 1.</summary>
    public static double Mscale(double factor, double mscale) => factor <= 1 ? 1.0 : 0.1 * mscale * Math.Log(factor) + 1.0;

    private static (double Low, double High) CorrectionRange(RopeScaling yarn, int dim, double theta)
    {
        // The pair index whose wavelength completes `rotations` turns over the original context.
        double CorrectionDim(double rotations) =>
            dim * Math.Log(yarn.OriginalMaxPositionEmbeddings / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Math.Max(Math.Floor(CorrectionDim(yarn.BetaFast)), 0);
        double high = Math.Min(Math.Ceiling(CorrectionDim(yarn.BetaSlow)), dim - 1);
        if (low == high) high += 0.001;  // avoid a zero-width ramp
        return (low, high);
    }

    /// <summary>
    /// cos and sin of position·θ for <paramref name="positions"/> [batch, seq] (int64): each [batch, seq, 1, dim/2]
    /// fp32, ready to broadcast over heads. The caller owns both.
    /// </summary>
    public (Tensor Cos, Tensor Sin) Angles(Tensor positions)
    {
        using var scope = NewDisposeScope();
        var inv = tensor(InverseFrequencies.ToArray(), device: positions.device);                  // [dim/2]
        var angles = positions.to(ScalarType.Float32).unsqueeze(-1).unsqueeze(-1) * inv;         // [b, s, 1, dim/2]
        var cos = angles.cos() * AttentionFactor;
        var sin = angles.sin() * AttentionFactor;
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Rotates adjacent pairs of <paramref name="x"/> [batch, seq, heads, dim] in fp32 and returns the input dtype:
    /// y[2i] = x[2i]·cos − x[2i+1]·sin, y[2i+1] = x[2i]·sin + x[2i+1]·cos.
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var shape = x.shape;
        var pairs = x.to(ScalarType.Float32).reshape([.. shape[..^1], shape[^1] / 2, 2]);       // [b, s, h, dim/2, 2]
        var even = pairs.select(-1, 0);
        var odd = pairs.select(-1, 1);
        var rotated = stack([even * cos - odd * sin, even * sin + odd * cos], -1);
        return rotated.reshape(shape).to(x.dtype).MoveToOuterDisposeScope();
    }
}
