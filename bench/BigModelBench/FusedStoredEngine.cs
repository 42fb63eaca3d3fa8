namespace DeepSeekV3.Bench;

/// <summary>
/// HOOK for our engine: the fused decoder over a memory-mapped FP8 / BF16 checkpoint with <c>--weights stored</c>
/// (issue 17, branch kern17). That loading path did not exist on this branch when the bench was written, so this
/// engine refuses to run rather than measure the f32-dequantizing loader, which cannot hold a 16B model in 24 GB.
/// To wire it with kern17's API as of its commit 2e2e16d: Load = <c>new MappedCheckpointWeights(dir)</c> and
/// <c>new FusedDecoder(config, weights, threads)</c>; Prefill = <c>decoder.Prefill(prompt, cache, lastOnly: true)</c>
/// on a fresh <c>PagedLatentCache</c>; Decode = one sequence per prompt in the cache (<c>AddSequence</c>,
/// <c>SetBatch</c>), each prompt prefilled, then <c>decoder.Forward(tokens [batch, 1], cache)</c> per step, timing each
/// step, as <see cref="LlamaCppBigEngine"/> does.
/// </summary>
internal sealed class FusedStoredEngine(string modelDirectory) : IBigModelEngine
{
    public string Name => "DeepSeekV3.NET fused, stored weights";

    public void Load() => throw new NotSupportedException(
        $"{modelDirectory}: our engine over stored FP8/BF16 weights (FusedDecoder with --weights stored, branch kern17) " +
        "is not on this branch yet; run --engine llama, or merge kern17 and fill in FusedStoredEngine");

    public double Prefill(long[] prompt) => throw new NotSupportedException();

    public double[] Decode(long[][] context, int batch, int steps) => throw new NotSupportedException();

    public void Dispose() { }
}
