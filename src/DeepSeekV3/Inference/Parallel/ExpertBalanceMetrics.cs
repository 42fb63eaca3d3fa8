namespace DeepSeekV3.Inference.Parallel;

/// <summary>
/// The latest expert-parallel balance figures of a running generation, for logs now and a server's metrics endpoint
/// later: the last re-plan, every re-plan so far, and the balance measured over the window since the last one.
/// Written by the generating thread, readable from any thread (each read returns a consistent snapshot).
/// </summary>
public sealed class ExpertBalanceMetrics
{
    private readonly object _lock = new();
    private readonly List<ExpertReplan> _replans = [];
    private ExpertBalance? _current;

    /// <summary>The most recent re-plan; null before the first.</summary>
    public ExpertReplan? LastReplan
    {
        get { lock (_lock) return _replans.Count == 0 ? null : _replans[^1]; }
    }

    public IReadOnlyList<ExpertReplan> Replans
    {
        get { lock (_lock) return _replans.ToArray(); }
    }

    /// <summary>Measured over the pairs since the last re-plan, as of the last <see cref="Record(ExpertBalance)"/>;
    /// null before any.</summary>
    public ExpertBalance? Current
    {
        get { lock (_lock) return _current; }
    }

    public void Record(ExpertReplan replan)
    {
        lock (_lock)
        {
            _replans.Add(replan);
            _current = null;
        }
    }

    public void Record(ExpertBalance current)
    {
        lock (_lock) _current = current;
    }
}
