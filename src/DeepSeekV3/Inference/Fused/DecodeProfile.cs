using System.Diagnostics;

namespace DeepSeekV3.Inference.Fused;

/// <summary>The parts of a <see cref="FusedDecoder"/> pass that <see cref="DecodeProfile"/> times.</summary>
public enum DecodeStage
{
    /// <summary>q (q_a, q_a_layernorm, q_b or q_proj), kv_a_proj_with_mqa and o_proj.</summary>
    AttentionProjections,
    /// <summary>RoPE, cache writes, and attention over the cached latents (scores, softmax, weighted latents).</summary>
    AttentionCore,
    /// <summary>W_UK absorbed into the queries and W_UV into the outputs (the two halves of kv_b_proj).</summary>
    AttentionAbsorb,
    /// <summary>The gate: router logits, group-limited top-k, weights.</summary>
    Router,
    RoutedExperts,
    SharedExperts,
    /// <summary>The dense SwiGLU of the first layers.</summary>
    DenseMlp,
    /// <summary>Final norm and the output head (shared head for MTP).</summary>
    LmHead,
    /// <summary>Embedding lookup, block norms, residual adds, eh_proj: the rest of the pass.</summary>
    Other,
}

/// <summary>
/// Where a fused decoder's time goes: wall time per <see cref="DecodeStage"/>, summed over passes. Attach one to
/// <see cref="FusedDecoder.Profile"/> (a few clock reads per layer; off by default). Not thread-safe, like the decoder.
/// </summary>
public sealed class DecodeProfile
{
    private readonly long[] _ticks = new long[Enum.GetValues<DecodeStage>().Length];
    private long _total;

    /// <summary>Passes timed.</summary>
    public int Passes { get; private set; }

    public double TotalMilliseconds => _total * 1000.0 / Stopwatch.Frequency;

    public double Milliseconds(DecodeStage stage) => _ticks[(int)stage] * 1000.0 / Stopwatch.Frequency;

    public void Reset()
    {
        Array.Clear(_ticks);
        _total = 0;
        Passes = 0;
    }

    internal static long Now => Stopwatch.GetTimestamp();

    /// <summary>Adds <paramref name="ticks"/> (Stopwatch ticks) to <paramref name="stage"/>.</summary>
    internal void Add(DecodeStage stage, long ticks) => _ticks[(int)stage] += ticks;

    /// <summary>Ends a pass that started at <paramref name="start"/>; time no stage claimed counts as Other.</summary>
    internal void EndPass(long start)
    {
        _total += Stopwatch.GetTimestamp() - start;
        Passes++;
        long claimed = 0;
        for (int i = 0; i < _ticks.Length; i++)
            if (i != (int)DecodeStage.Other) claimed += _ticks[i];
        _ticks[(int)DecodeStage.Other] = _total - claimed;
    }
}
