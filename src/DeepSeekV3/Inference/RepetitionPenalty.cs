namespace DeepSeekV3.Inference;

/// <summary>
/// The repetition guard of <see cref="SamplingParams.RepetitionPenalty"/>: the multiplicative penalty of CTRL
/// (Keskar et al. 2019, §4.1) as llama.cpp's repeat_penalty applies it, over the last
/// <see cref="SamplingParams.RepetitionWindow"/> tokens of the context (prompt and output). Every distinct token of
/// the window has its logit divided by the penalty when positive and multiplied by it when negative, so it always
/// becomes less likely, however often it occurred. A tiny model decoded greedily falls into loops
/// ("the first time , and the first time , …"); this makes each token of the loop cost a little more every time it
/// comes round until another token wins.
/// </summary>
internal sealed class RepetitionPenalty
{
    private readonly float _penalty;
    private readonly int _window;
    private readonly Queue<long> _recent = new();
    private readonly Dictionary<long, int> _counts = [];

    public RepetitionPenalty(double penalty, int window)
    {
        _penalty = (float)penalty;
        _window = window;
    }

    /// <summary>Adds a token to the window, dropping the oldest once it holds <c>window</c> tokens.</summary>
    public void Remember(long token)
    {
        _recent.Enqueue(token);
        _counts[token] = _counts.GetValueOrDefault(token) + 1;
        if (_recent.Count <= _window) return;
        long oldest = _recent.Dequeue();
        if (--_counts[oldest] == 0) _counts.Remove(oldest);
    }

    /// <summary>Penalizes, in place, the logits [vocab] of every token in the window.</summary>
    public void Apply(Span<float> logits)
    {
        foreach (long token in _counts.Keys)
        {
            if (token < 0 || token >= logits.Length) continue;   // a prompt id the row does not cover cannot be sampled anyway
            ref float logit = ref logits[(int)token];
            logit = logit > 0 ? logit / _penalty : logit * _penalty;
        }
    }
}
