using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The simplest <see cref="ILatentKvCache"/>: one growing tensor pair per layer, all sequences the same length.
/// Allocated per request, never sized up front. Disposing it frees every stored tensor.
/// </summary>
public sealed class ContiguousLatentCache : ILatentKvCache, IDisposable
{
    private readonly (Tensor Latent, Tensor RopeKey)?[] _layers;

    public ContiguousLatentCache(int layers) => _layers = new (Tensor, Tensor)?[layers];

    public long Length(int layer) => _layers[layer]?.Latent.shape[1] ?? 0;

    /// <summary>Bytes the cache holds right now, over all layers.</summary>
    public long Bytes => _layers.Sum(e => e is { } p ? p.Latent.NumberOfElements * p.Latent.ElementSize
                                                        + p.RopeKey.NumberOfElements * p.RopeKey.ElementSize : 0);

    public (Tensor Latent, Tensor RopeKey) Append(int layer, Tensor latent, Tensor ropeKey)
    {
        var previous = _layers[layer];
        Tensor allLatent, allRope;
        if (previous is { } p)
        {
            allLatent = cat([p.Latent, latent.detach()], 1);
            allRope = cat([p.RopeKey, ropeKey.detach()], 1);
            p.Latent.Dispose();
            p.RopeKey.Dispose();
        }
        else
        {
            allLatent = latent.detach().clone();
            allRope = ropeKey.detach().clone();
        }
        allLatent.DetachFromDisposeScope();
        allRope.DetachFromDisposeScope();
        _layers[layer] = (allLatent, allRope);
        return (allLatent, allRope);
    }

    public void Dispose()
    {
        foreach (var entry in _layers)
        {
            entry?.Latent.Dispose();
            entry?.RopeKey.Dispose();
        }
        Array.Clear(_layers);
    }
}
