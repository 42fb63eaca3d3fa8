using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// Zero-bubble pipeline scheduling's split of backward (Qi et al. 2023; DualPipe's <c>WeightGradStore</c>): while
/// <see cref="Deferring"/> is on, the projections that share this queue compute only their input gradient in
/// backward (B) and leave a note of what their weight gradient needs; <see cref="Seal"/> closes the notes of one
/// backward chunk into one step, and <see cref="RunNext"/> later computes that step's weight gradients (W), when the
/// schedule has a bubble to fill. Everything else (norms, router, embedding) gets its gradient in B, as in the
/// reference, whose deferral covers linear layers only.
/// </summary>
public sealed class WeightGradientQueue
{
    private readonly List<Action> _open = [];
    private readonly Queue<List<Action>> _sealed = new();

    /// <summary>On during a backward chunk whose weight gradients wait.</summary>
    public bool Deferring { get; set; }

    /// <summary>Sealed steps not yet run.</summary>
    public int Pending => _sealed.Count;

    internal void Add(Action weightGradient) => _open.Add(weightGradient);

    /// <summary>Closes the current chunk's notes into one step (an empty step when nothing was deferred).</summary>
    public void Seal()
    {
        _sealed.Enqueue([.. _open]);
        _open.Clear();
    }

    /// <summary>Computes the oldest sealed step's weight gradients, accumulating into each weight's <c>grad</c>.</summary>
    public void RunNext()
    {
        if (!_sealed.TryDequeue(out var step))
            throw new InvalidOperationException("no deferred weight-gradient step is waiting");
        using var _ = no_grad();
        foreach (var run in step)
            run();
    }

    /// <summary>Runs every waiting step (the end of a pipeline step).</summary>
    public void RunAll()
    {
        while (_sealed.Count > 0) RunNext();
        if (_open.Count > 0)
            throw new InvalidOperationException("weight gradients were deferred but their chunk was never sealed");
    }
}
