namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// The modules of pipeline stage <paramref name="Stage"/>: decoder layers [FirstLayer, FirstLayer + LayerCount), and
/// the embedding (first stage) or the final norm, LM head and <paramref name="MtpModules"/> MTP modules (last stage).
/// </summary>
public sealed record StageModules(int Stage, int FirstLayer, int LayerCount, bool HoldsEmbedding, bool HoldsHead, int MtpModules)
{
    public IEnumerable<int> Layers => Enumerable.Range(FirstLayer, LayerCount);

    public override string ToString() =>
        $"stage {Stage}: " + string.Join(", ", new[]
        {
            HoldsEmbedding ? "embedding" : null,
            LayerCount == 0 ? null : LayerCount == 1 ? $"layer {FirstLayer}" : $"layers {FirstLayer}–{FirstLayer + LayerCount - 1}",
            HoldsHead ? "norm + head" : null,
            MtpModules > 0 ? $"{MtpModules} MTP" : null,
        }.Where(s => s is not null));
}
