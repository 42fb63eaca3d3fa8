using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Optimization;

/// <summary>Global-norm gradient clipping (report §4.2: clip at 1.0).</summary>
public static class GradientClipping
{
    /// <summary>
    /// Computes the L2 norm of all gradients together. When it is finite and above <paramref name="maxNorm"/>, every
    /// gradient is scaled by maxNorm / (norm + 1e-6); a non-finite norm is returned unchanged and nothing is touched,
    /// so the caller can skip the step. Returns the norm before clipping.
    /// </summary>
    public static double ClipByGlobalNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().ToList();              // handles owned by the scope
        if (grads.Count == 0) return 0;
        using var _ = no_grad();
        var squares = stack(grads.Select(g => g.to(ScalarType.Float64).square().sum()).ToArray());
        double norm = Math.Sqrt(squares.sum().item<double>());
        double scale = Factor(norm, maxNorm);
        if (scale != 1)
        {
            using var factor = scale.ToScalar();
            foreach (var g in grads)
                g.mul_(factor);
        }
        return norm;
    }

    /// <summary>The factor gradients of global norm <paramref name="norm"/> are scaled by: maxNorm / (norm + 1e-6)
    /// when the norm is finite and above <paramref name="maxNorm"/>, else 1.</summary>
    public static double Factor(double norm, double maxNorm) =>
        double.IsFinite(norm) && maxNorm > 0 && norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
}
