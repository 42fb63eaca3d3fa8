using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

/// <summary>
/// The simplest <see cref="ILatentKvCache"/>: one growing tensor pair per layer, all sequences the same length,
/// positions starting at 0. The tests' plainest reference cache; inference uses the paged one.
/// Allocated per request, never sized up front. Disposing it frees every stored tensor.
/// </summary>
internal sealed class ContiguousLatentCache : ILatentKvCache, IDisposable
{
    private readonly (Tensor Latent, Tensor RopeKey)?[] _layers;

    public ContiguousLatentCache(int layers) => _layers = new (Tensor, Tensor)?[layers];

    public long Length(int layer) => _layers[layer]?.Latent.shape[1] ?? 0;

    /// <summary>Bytes the cache holds right now, over all layers.</summary>
    public long Bytes => _layers.Sum(e => e is { } p ? p.Latent.NumberOfElements * p.Latent.ElementSize
                                                        + p.RopeKey.NumberOfElements * p.RopeKey.ElementSize : 0);

    public Tensor Positions(int layer, long steps, Device device) =>
        arange(Length(layer), Length(layer) + steps, dtype: ScalarType.Int64, device: device).unsqueeze(0);

    public LatentCacheView Append(int layer, Tensor latent, Tensor ropeKey)
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
        var keyPositions = arange(allLatent.shape[1], dtype: ScalarType.Int64, device: latent.device).unsqueeze(0);
        return new LatentCacheView(allLatent, allRope, keyPositions);
    }

    /// <summary>Forgets every entry at position ≥ <paramref name="length"/> in every layer (speculative rollback).</summary>
    public void Truncate(long length)
    {
        for (int i = 0; i < _layers.Length; i++)
        {
            if (_layers[i] is not { } p || p.Latent.shape[1] <= length) continue;
            var latent = p.Latent.narrow(1, 0, length).clone().DetachFromDisposeScope();
            var rope = p.RopeKey.narrow(1, 0, length).clone().DetachFromDisposeScope();
            p.Latent.Dispose();
            p.RopeKey.Dispose();
            _layers[i] = (latent, rope);
        }
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
