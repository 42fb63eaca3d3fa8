using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// Passes every call to another backend and shows each prefill's and step's logits at the last position, one row per
/// sequence, to <paramref name="onLogits"/> before they are sampled (MTP drafts are not shown): what
/// <c>dsv3 generate --dump-logits</c> writes, to compare two ways of running the same generation. Owns the inner
/// backend.
/// </summary>
public sealed class LogitsRecordingBackend(ForwardBackend inner, Action<float[][]> onLogits) : ForwardBackend(inner.Config, inner.TorchModel)
{
    public override int MaxRows => inner.MaxRows;

    public override ModelOutput Step(Tensor tokens, PagedLatentCache cache) => Shown(inner.Step(tokens, cache));

    public override ModelOutput Prefill(long[] tokens, PagedLatentCache cache, bool everyHidden) =>
        Shown(inner.Prefill(tokens, cache, everyHidden));

    public override ModelOutput DraftMtp(int depth, Tensor previous, Tensor nextTokens, PagedLatentCache cache) =>
        inner.DraftMtp(depth, previous, nextTokens, cache);

    private ModelOutput Shown(ModelOutput output)
    {
        using var last = output.Logits.select(1, -1).to(ScalarType.Float32).cpu();                  // [batch, vocab]
        onLogits(Enumerable.Range(0, (int)last.shape[0]).Select(row => last[row].data<float>().ToArray()).ToArray());
        return output;
    }

    public override void Dispose()
    {
        inner.Dispose();
        base.Dispose();
    }
}
