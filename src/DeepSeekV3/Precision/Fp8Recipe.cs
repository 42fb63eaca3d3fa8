namespace DeepSeekV3.Precision;

/// <summary>
/// How FP8 projections quantize and multiply (report §3.3): activations and activation gradients in 1×128 tiles,
/// weights in 128×128 blocks, E4M3 everywhere, scales from the current amax, GEMMs through <see cref="Gemm"/>.
/// </summary>
public sealed record Fp8Recipe
{
    /// <summary>The FP8 GEMM: the CPU emulation of an H800 with promotion every 128 (a GPU GEMM would go here).</summary>
    public IFp8Gemm Gemm { get; init; } = new EmulatedFp8Gemm();

    /// <summary>Scaling of every tile and block not named below.</summary>
    public Fp8Scaling Scaling { get; init; } = Fp8Scaling.Float32Scales;

    /// <summary>Power-of-2 (UE8M0) scales where the report uses them (§3.3.3): the input of the Linear after attention
    /// (o_proj), the activation before the MoE up-projections (routed experts' gate_proj/up_proj input) and the
    /// activation gradient before the MoE down-projection (routed experts' down_proj output gradient).</summary>
    public bool PowerOfTwoWhereReportDoes { get; init; } = true;

    /// <summary>The report's recipe on the emulated GEMM.</summary>
    public static Fp8Recipe Report { get; } = new();
}
