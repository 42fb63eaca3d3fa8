using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Initialization for training from scratch (report §4.2): every weight matrix ~ N(0, 0.006²), RMSNorm weights 1,
/// router correction biases 0. Deterministic: the same seed gives the same weights, parameter by parameter in
/// state-dict order, whatever else the process has drawn.
/// </summary>
public static class WeightInitializer
{
    /// <summary>The report's standard deviation for all learnable matrices.</summary>
    public const double ReportStd = 0.006;

    public static void Initialize(nn.Module model, long seed, double std = ReportStd)
    {
        using var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (_, module) in model.named_modules().Prepend(("", model)))
        {
            foreach (var (_, parameter) in module.named_parameters(recurse: false))
            {
                if (module is RmsNorm)
                    parameter.fill_(Scalars.OneDouble);
                else
                {
                    // Drawn in fp32 on the CPU from our own generator, so the values do not depend on the device,
                    // the dtype or anything else the process has drawn.
                    using var values = randn(parameter.shape, ScalarType.Float32, generator: generator) * std;
                    parameter.copy_(values);
                }
            }
            if (module is Router { ExpertScoreCorrectionBias: { } bias })
                bias.zero_();
        }
    }
}
