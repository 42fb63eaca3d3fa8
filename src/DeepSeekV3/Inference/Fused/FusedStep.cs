using DeepSeekV3.Configuration;
using DeepSeekV3.Kernels;

namespace DeepSeekV3.Inference;

/// <summary>
/// What the blocks of one <see cref="FusedDecoder"/> pass share: the token rows (which sequence, which position),
/// the scratch buffers, the thread count, RoPE angles, and raw access to the paged latent cache.
/// </summary>
internal sealed unsafe class FusedStep
{
    private readonly ModelConfig _config;
    private readonly PagedLatentCache _cache;
    private readonly float[] _inverseFrequencies;
    private readonly float _attentionFactor, _softmaxScale;
    private readonly int _stepsPerSequence;
    private nint _latentPool, _ropePool;

    public FusedStep(ModelConfig config, PagedLatentCache cache, FusedScratch scratch, WorkerTeam team,
        float[] inverseFrequencies, float attentionFactor, float softmaxScale, int stepsPerSequence)
    {
        _config = config;
        _cache = cache;
        Scratch = scratch;
        Team = team;
        _inverseFrequencies = inverseFrequencies;
        _attentionFactor = attentionFactor;
        _softmaxScale = softmaxScale;
        _stepsPerSequence = stepsPerSequence;
        int rows = cache.Batch.Count * stepsPerSequence;
        RowSequence = new int[rows];
        RowPosition = new long[rows];
        for (int i = 0; i < rows; i++) RowSequence[i] = cache.Batch[i / stepsPerSequence];
        scratch.Ensure(rows, 1);
    }

    public FusedScratch Scratch { get; }
    public WorkerTeam Team { get; }

    /// <summary>Cache sequence of each token row (row = batch index · steps + step).</summary>
    public int[] RowSequence { get; }

    /// <summary>Absolute position of each token row in the current layer.</summary>
    public long[] RowPosition { get; }

    /// <summary>Reserves this pass's entries in a cache layer: the rows continue each sequence where that layer ends.</summary>
    public void BeginLayer(int layer)
    {
        long longest = 0;
        for (int b = 0; b < _cache.Batch.Count; b++)
        {
            long start = _cache.Reserve(_cache.Batch[b], layer, _stepsPerSequence);
            for (int j = 0; j < _stepsPerSequence; j++)
                RowPosition[b * _stepsPerSequence + j] = start + j;
            longest = Math.Max(longest, start + _stepsPerSequence);
        }
        if (longest > _config.MaxPositionEmbeddings)
            throw new InvalidOperationException($"position {longest - 1} is past the model's context of {_config.MaxPositionEmbeddings}");
        Scratch.Ensure(RowSequence.Length, longest);
        (_latentPool, _ropePool) = _cache.Pools(layer);
    }

    /// <summary>cos and sin of position·θ_i (× YaRN's attention factor) for each row, into Scratch.Cos/Sin.</summary>
    public void Angles(long[] positions, int m)
    {
        int pairs = _inverseFrequencies.Length;
        for (int i = 0; i < m; i++)
        {
            float position = positions[i];
            for (int p = 0; p < pairs; p++)
            {
                float angle = position * _inverseFrequencies[p];
                Scratch.Cos[i * pairs + p] = MathF.Cos(angle) * _attentionFactor;
                Scratch.Sin[i * pairs + p] = MathF.Sin(angle) * _attentionFactor;
            }
        }
    }

    /// <summary>Stores each row's latent [r_kv] and rotated RoPE key [d_r] at its sequence's slot.</summary>
    public void WriteCache(float* latent, float* ropeKey, int m)
    {
        int r = _config.KvLoraRank, dr = _config.QkRopeHeadDim;
        for (int i = 0; i < m; i++)
        {
            long slot = Slot(RowSequence[i], RowPosition[i]);
            if (_cache.IsBf16)
            {
                RowMath.Narrow(latent + i * r, (ushort*)_latentPool + slot * r, r);
                RowMath.Narrow(ropeKey + i * dr, (ushort*)_ropePool + slot * dr, dr);
            }
            else
            {
                Buffer.MemoryCopy(latent + i * r, (float*)_latentPool + slot * r, r * 4L, r * 4L);
                Buffer.MemoryCopy(ropeKey + i * dr, (float*)_ropePool + slot * dr, dr * 4L, dr * 4L);
            }
        }
    }

    /// <summary>
    /// Eqs. (9)-(11) over the latent cache for one query row at <paramref name="position"/>: scores against every key
    /// at positions 0..position of the sequence, softmax per head, and the probability-weighted latent per head.
    /// queryLatent [heads, r_kv]; queryRope: head h's rotated RoPE query at queryRope + h·ropeStride; outputLatent
    /// [heads, r_kv].
    /// </summary>
    public void Attend(int sequence, long position, float* queryLatent, float* queryRope, int ropeStride, float* outputLatent)
    {
        int heads = _config.NumAttentionHeads, r = _config.KvLoraRank, dr = _config.QkRopeHeadDim;
        int keys = (int)position + 1;
        float* scores = Scratch.Scores;
        var blocks = _cache.Blocks(sequence);
        for (int t = 0; t < keys; t++)
        {
            var (latent, rope) = Key(blocks, t);
            for (int h = 0; h < heads; h++)
                scores[h * keys + t] = (RowMath.Dot(queryLatent + h * r, (float*)latent, r)
                                        + RowMath.Dot(queryRope + h * ropeStride, (float*)rope, dr)) * _softmaxScale;
        }
        for (int h = 0; h < heads; h++) RowMath.Softmax(scores + h * keys, keys);
        new Span<float>(outputLatent, heads * r).Clear();
        for (int t = 0; t < keys; t++)
        {
            var (latent, _) = Key(blocks, t);
            for (int h = 0; h < heads; h++)
                RowMath.Axpy(outputLatent + h * r, scores[h * keys + t], (float*)latent, r);
        }
    }

    /// <summary>The cached latent and RoPE key at a position, as fp32 (bf16 caches are widened into scratch).</summary>
    private (nint Latent, nint Rope) Key(IReadOnlyList<int> blocks, int position)
    {
        int r = _config.KvLoraRank, dr = _config.QkRopeHeadDim, size = _cache.BlockSize;
        long slot = (long)blocks[position / size] * size + position % size;
        if (!_cache.IsBf16)
            return ((nint)((float*)_latentPool + slot * r), (nint)((float*)_ropePool + slot * dr));
        RowMath.Widen((ushort*)_latentPool + slot * r, Scratch.KeyRow, r);
        RowMath.Widen((ushort*)_ropePool + slot * dr, Scratch.KeyRow + r, dr);
        return ((nint)Scratch.KeyRow, (nint)(Scratch.KeyRow + r));
    }

    private long Slot(int sequence, long position)
    {
        int size = _cache.BlockSize;
        return (long)_cache.Blocks(sequence)[(int)(position / size)] * size + position % size;
    }
}
