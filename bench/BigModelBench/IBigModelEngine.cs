namespace DeepSeekV3.Bench;

/// <summary>
/// One engine under <see cref="BigModelRun"/>'s measurements. Exactly one is alive per process: two copies of a
/// 16B model do not fit in 24 GB.
/// </summary>
internal interface IBigModelEngine : IDisposable
{
    string Name { get; }

    /// <summary>Loads the weights and makes a context ready to run; returns nothing, the caller times it.</summary>
    void Load();

    /// <summary>Runs <paramref name="prompt"/> in one forward pass (logits of the last position only); seconds.</summary>
    double Prefill(long[] prompt);

    /// <summary>
    /// <paramref name="batch"/> sequences, each first given <paramref name="context"/> as its own prompt, then
    /// <paramref name="steps"/> greedy steps that decode one token of every sequence per forward pass. Returns the
    /// seconds of each step (prompts excluded).
    /// </summary>
    double[] Decode(long[][] context, int batch, int steps);

    /// <summary>Milliseconds per decode step by stage over the last <see cref="Decode"/> call, where the engine
    /// can tell (ours: <c>DecodeProfile</c>); null otherwise.</summary>
    IReadOnlyDictionary<string, double>? StageMilliseconds() => null;
}
