using static TorchSharp.torch;

namespace DeepSeekV3.Training.Optimization;

/// <summary>AdamW hyper-parameters; defaults are the report's (§4.2). MomentDtype BFloat16 stores both moments in
/// BF16 as the report does; Float32 (default) keeps them exact.</summary>
public sealed record AdamWOptions
{
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double Epsilon { get; init; } = 1e-8;
    public double WeightDecay { get; init; } = 0.1;
    public ScalarType MomentDtype { get; init; } = ScalarType.Float32;
}
