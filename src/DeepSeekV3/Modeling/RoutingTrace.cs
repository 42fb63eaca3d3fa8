using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Collects each MoE layer's router decision during a forward pass, for balance losses and expert-load statistics.
/// Owns the recorded tensors (still attached to the autograd graph); dispose after the step.
/// </summary>
public sealed class RoutingTrace : IDisposable
{
    private readonly List<(int Layer, RouterOutput Output)> _records = [];

    public IReadOnlyList<(int Layer, RouterOutput Output)> Records => _records;

    internal void Add(int layer, RouterOutput output)
    {
        output.Scores.DetachFromDisposeScope();
        output.Indices.DetachFromDisposeScope();
        output.Weights.DetachFromDisposeScope();
        _records.Add((layer, output));
    }

    public void Dispose()
    {
        foreach (var (_, output) in _records)
            output.Dispose();
        _records.Clear();
    }
}
