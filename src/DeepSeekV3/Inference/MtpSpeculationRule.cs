namespace DeepSeekV3.Inference;

/// <summary>
/// The server's rule for MTP speculative decoding: speculate only when it is expected to give more tokens per second
/// than plain steps at the current batch size. An MTP step verifies each sequence's draft in its own pass and drafts
/// the next one, so it costs about B·c_mtp for B sequences and gives B·(1 + α) tokens (the draft, when accepted with
/// probability α, and the verifying pass's own token); a plain step costs c_plain(B), one batched pass, and gives B.
/// MTP wins when (1 + α)·c_plain(B) &gt; B·c_mtp. All three are estimated online: α from the drafts verified so far
/// (with one accepted and one rejected draft as a prior, so a few steps do not decide it), c_mtp per sequence and
/// c_plain per batch size as exponential moving averages of measured step times. A mode with no measurement yet is
/// tried once; every <see cref="ProbeEvery"/> steps the losing mode runs once more so a changed load or acceptance can
/// turn the decision. On the bundled model this keeps batch 1 on plain steps (MTP's verify + draft passes cost more
/// than 1 + α plain ones on this CPU: README, Speculative decoding) and lets a model whose passes are dearer relative
/// to the drafter speculate. The generation loop's thread alone writes; counters are read from any thread.
/// </summary>
public sealed class MtpSpeculationRule : ISpeculationPolicy
{
    private readonly Dictionary<int, double> _plainSeconds = [];          // c_plain(B): one plain step of B sequences
    private double? _mtpSecondsPerSequence;                               // c_mtp: one MTP step, per sequence
    private long _drafted, _accepted, _mtpSteps, _plainSteps;
    private int _sinceProbe;

    /// <summary>Weight of the newest measurement in the moving averages.</summary>
    public const double Smoothing = 0.2;

    /// <summary>Steps between runs of the losing mode, to keep its estimate current.</summary>
    public const int ProbeEvery = 32;

    /// <summary>α: the share of drafts accepted, with a one-accepted, one-rejected prior.</summary>
    public double Acceptance => (Interlocked.Read(ref _accepted) + 1.0) / (Interlocked.Read(ref _drafted) + 2.0);

    /// <summary>Steps run with MTP (dsv3:decode_steps_total{mode="mtp"}).</summary>
    public long MtpSteps => Interlocked.Read(ref _mtpSteps);

    /// <summary>Steps run plain (dsv3:decode_steps_total{mode="plain"}).</summary>
    public long PlainSteps => Interlocked.Read(ref _plainSteps);

    /// <summary>
    /// The decision on given estimates: MTP's tokens per second (1 + α) / c_mtp against plain's B / c_plain(B).
    /// </summary>
    public static bool Worthwhile(double acceptance, int batch, double plainStepSeconds, double mtpSecondsPerSequence) =>
        (1 + acceptance) * plainStepSeconds > batch * mtpSecondsPerSequence;

    public bool UseMtp(int batch)
    {
        if (!_plainSeconds.TryGetValue(batch, out double plain)) return false;      // measure plain at this size first
        if (_mtpSecondsPerSequence is not { } mtp) return true;                     // then MTP once
        bool best = Worthwhile(Acceptance, batch, plain, mtp);
        if (++_sinceProbe < ProbeEvery) return best;
        _sinceProbe = 0;
        return !best;
    }

    public void Observe(bool mtp, int batch, double seconds, int drafted, int accepted)
    {
        if (batch < 1 || seconds < 0) throw new ArgumentOutOfRangeException(nameof(batch), $"a step of {batch} sequences took {seconds} s");
        if (mtp)
        {
            Interlocked.Increment(ref _mtpSteps);
            Interlocked.Add(ref _drafted, drafted);
            Interlocked.Add(ref _accepted, accepted);
            _mtpSecondsPerSequence = Average(_mtpSecondsPerSequence, seconds / batch);
        }
        else
        {
            Interlocked.Increment(ref _plainSteps);
            _plainSeconds[batch] = Average(_plainSeconds.TryGetValue(batch, out double old) ? old : null, seconds);
        }
    }

    private static double Average(double? old, double sample) => old is { } o ? o + Smoothing * (sample - o) : sample;
}
