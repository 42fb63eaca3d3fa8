namespace DeepSeekV3.Inference;

/// <summary>
/// Decides, step by step, whether a batch running MTP speculative decoding verifies drafts (an MTP step) or takes a
/// plain one-token step, and learns from what each step cost and gave. Sequences switch freely: a plain step keeps
/// the hidden states the MTP module will need, and the next MTP step catches its cache up first.
/// </summary>
public interface ISpeculationPolicy
{
    /// <summary>Whether the next step of <paramref name="batch"/> running sequences drafts and verifies.</summary>
    bool UseMtp(int batch);

    /// <summary>What a step took: its mode, batch, wall time, and (MTP steps) drafts verified and accepted.</summary>
    void Observe(bool mtp, int batch, double seconds, int drafted, int accepted);
}
