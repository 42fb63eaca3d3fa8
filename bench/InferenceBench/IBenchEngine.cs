namespace DeepSeekV3.Bench;

/// <summary>
/// One engine under test, loaded once. The program runs the engines in rounds, one repeat each per round, so that
/// load from other tenants of this shared machine falls on all of them alike.
/// </summary>
internal interface IBenchEngine : IDisposable
{
    string Name { get; }

    /// <summary>Prefill of the prompt, then the decode steps; timings are kept when <paramref name="record"/>.</summary>
    void Repeat(bool record);

    Timings Timings { get; }
}
