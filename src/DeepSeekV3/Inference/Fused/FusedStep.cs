using DeepSeekV3.Configuration;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
    private nint _pool;                // this layer's cache rows [slots, r_kv + d_r]
    private int _scoreStride;          // keys per head in Scratch.Scores: the layer's longest row, so rows never overlap

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
        AllRows = Enumerable.Range(0, rows).ToArray();
        LastRows = Enumerable.Range(1, cache.Batch.Count).Select(b => b * stepsPerSequence - 1).ToArray();
        scratch.Ensure(rows, 1, team.Size, cache.BlockSize);
    }

    public FusedScratch Scratch { get; }
    public WorkerTeam Team { get; }

    /// <summary>Stage timings to add to, or null (not profiling).</summary>
    public DecodeProfile? Profile { get; init; }

    /// <summary>Cache sequence of each token row (row = batch index · steps + step).</summary>
    public int[] RowSequence { get; }

    /// <summary>Absolute position of each token row in the current layer.</summary>
    public long[] RowPosition { get; }

    /// <summary>Every token row, 0..rows−1; and each sequence's last row.</summary>
    public int[] AllRows { get; }
    public int[] LastRows { get; }

    /// <summary>Moves rows[i] of data [·, width] to row i, for ascending rows (in place; a no-op for 0, 1, 2...).</summary>
    public static void Gather(float* data, int[] rows, int width)
    {
        for (int i = 0; i < rows.Length; i++)
            if (rows[i] != i)
                Buffer.MemoryCopy(data + (long)rows[i] * width, data + (long)i * width, width * 4L, width * 4L);
    }

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
        Scratch.Ensure(RowSequence.Length, longest, Team.Size, _cache.BlockSize);
        _scoreStride = (int)longest;
        _pool = _cache.Pool(layer);
    }

    /// <summary>cos and sin of position·θ_i (× YaRN's attention factor) for each row, into Scratch.Cos/Sin.</summary>
    public void Angles(int m)
    {
        int pairs = _inverseFrequencies.Length;
        for (int i = 0; i < m; i++)
        {
            float position = RowPosition[i];
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
        int r = _config.KvLoraRank, dr = _config.QkRopeHeadDim, width = r + dr;
        for (int i = 0; i < m; i++)
        {
            long row = _cache.Slot(RowSequence[i], RowPosition[i]) * width;
            if (_cache.IsBf16)
            {
                RowMath.Narrow(latent + i * r, (ushort*)_pool + row, r);
                RowMath.Narrow(ropeKey + i * dr, (ushort*)_pool + row + r, dr);
            }
            else
            {
                Buffer.MemoryCopy(latent + i * r, (float*)_pool + row, r * 4L, r * 4L);
                Buffer.MemoryCopy(ropeKey + i * dr, (float*)_pool + row + r, dr * 4L, dr * 4L);
            }
        }
    }

    /// <summary>
    /// Eqs. (9)-(11) over the latent cache for one query row at <paramref name="position"/> and heads
    /// [headFirst, headLast): scores against every key at positions 0..position of the sequence, softmax per head, and
    /// the probability-weighted latent per head. query [heads, r_kv + d_r]: each head's absorbed latent query followed
    /// by its rotated RoPE query, the layout of a cache row, so one dot product scores both parts; outputLatent
    /// [heads, r_kv]; temp: 16·BlockSize floats of the calling member's own. Scores are computed a cache block at a
    /// time with the <see cref="Gemv"/> kernel (query heads as its rows, the block's keys as its weight rows).
    /// </summary>
    public void Attend(int sequence, long position, float* query, float* outputLatent, int headFirst, int headLast, float* temp)
    {
        int r = _config.KvLoraRank, width = r + _config.QkRopeHeadDim, size = _cache.BlockSize;
        int keys = (int)position + 1;
        bool bf16 = _cache.IsBf16;
        int elementSize = bf16 ? 2 : 4;
        long blockBytes = (long)size * width * elementSize;
        float* scores = Scratch.Scores;
        int stride = _scoreStride;
        var blocks = _cache.Blocks(sequence);
        for (int first = 0; first < keys; first += size)
        {
            int count = Math.Min(size, keys - first);
            byte* block = (byte*)_pool + blocks[first / size] * blockBytes;
            for (int h0 = headFirst; h0 < headLast; h0 += Gemv.MaxRows)
            {
                int rows = Math.Min(Gemv.MaxRows, headLast - h0);
                Gemv.MultiplyRange(query + h0 * width, rows, block, bf16, count, width, temp, 0, count);
                for (int h = 0; h < rows; h++)
                    for (int t = 0; t < count; t++)
                        scores[(h0 + h) * stride + first + t] = temp[h * count + t] * _softmaxScale;
            }
        }
        for (int h = headFirst; h < headLast; h++) RowMath.Softmax(scores + h * stride, keys);

        // out_latent[h] = Σ_t p[h, t] · latent[t]: a cache block at a time (it stays in L1 for every pass over it,
        // and the next block is prefetched meanwhile), four heads × 16 latent dims in registers at a time.
        new Span<float>(outputLatent + headFirst * r, (headLast - headFirst) * r).Clear();
        for (int first = 0; first < keys; first += size)
        {
            int count = Math.Min(size, keys - first);
            byte* latent = (byte*)_pool + blocks[first / size] * blockBytes;
            if (first + size < keys)
                for (byte* next = (byte*)_pool + blocks[first / size + 1] * blockBytes, stop = next + blockBytes; next < stop; next += 64)
                    Sse.Prefetch0(next);
            for (int c = 0; c < r; c += 16)
                for (int h = headFirst; h < headLast; h += 4)
                {
                    int heads = Math.Min(4, headLast - h);
                    float* p0 = scores + h * stride + first;
                    SumFour(latent, bf16, width, c, r - c, count, p0, stride, heads, outputLatent + h * r + c, r);
                }
        }
    }

    /// <summary>
    /// output[j, 0..16) += Σ_t p_j[t] · latent[t, c..c+16) for up to four heads j (probabilities p0 + j·stride,
    /// outputs output + j·r), fewer than 16 columns when <paramref name="left"/> &lt; 16. Each loop sits in a method
    /// with no calls in it, so the JIT keeps the four accumulators in registers (zmm registers do not survive calls:
    /// with a call anywhere in the method it spilled them to the stack every step).
    /// </summary>
    private static void SumFour(byte* latent, bool bf16, int width, int c, int left, int count, float* p0, int stride,
        int heads, float* output, int r)
    {
        float* p1 = heads > 1 ? p0 + stride : p0, p2 = heads > 2 ? p0 + 2 * stride : p0, p3 = heads > 3 ? p0 + 3 * stride : p0;
        Vector512<float> a0, a1, a2, a3;
        if (left < 16)
            (a0, a1, a2, a3) = SumFourTail(latent, bf16, width, c, left, count, p0, p1, p2, p3);
        else if (bf16)
            (a0, a1, a2, a3) = LatentSum<ushort>.Four((ushort*)latent + c, width, count, p0, p1, p2, p3);
        else
            (a0, a1, a2, a3) = LatentSum<float>.Four((float*)latent + c, width, count, p0, p1, p2, p3);
        AddLatent(output, a0, left);
        if (heads > 1) AddLatent(output + r, a1, left);
        if (heads > 2) AddLatent(output + 2 * r, a2, left);
        if (heads > 3) AddLatent(output + 3 * r, a3, left);
    }

    private static class LatentSum<T> where T : unmanaged
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) Four(T* row, int width,
            int count, float* p0, float* p1, float* p2, float* p3)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int t = 0; t < count; t++, row += width)
            {
                var v = typeof(T) == typeof(float) ? Vector512.Load((float*)row) : RowMath.LoadBf16((ushort*)row);
                a0 = Vector512.FusedMultiplyAdd(Vector512.Create(p0[t]), v, a0);
                a1 = Vector512.FusedMultiplyAdd(Vector512.Create(p1[t]), v, a1);
                a2 = Vector512.FusedMultiplyAdd(Vector512.Create(p2[t]), v, a2);
                a3 = Vector512.FusedMultiplyAdd(Vector512.Create(p3[t]), v, a3);
            }
            return (a0, a1, a2, a3);
        }
    }

    /// <summary><see cref="SumFour"/>'s last columns when r_kv is not a multiple of 16 (odd test shapes only): the
    /// <paramref name="left"/> &lt; 16 columns of every row, widened to fp32 and zero-padded to 16, go through the
    /// same loop.</summary>
    private static (Vector512<float>, Vector512<float>, Vector512<float>, Vector512<float>) SumFourTail(byte* latent,
        bool bf16, int width, int c, int left, int count, float* p0, float* p1, float* p2, float* p3)
    {
        var padded = new float[count * 16];
        for (int t = 0; t < count; t++)
            for (int i = 0; i < left; i++)
            {
                long at = (long)t * width + c + i;
                padded[t * 16 + i] = bf16 ? RowMath.Bf16ToFloat(((ushort*)latent)[at]) : ((float*)latent)[at];
            }
        fixed (float* rows = padded)
            return LatentSum<float>.Four(rows, 16, count, p0, p1, p2, p3);
    }

    /// <summary>destination += value over the first min(16, left) floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddLatent(float* destination, Vector512<float> value, int left)
    {
        if (left >= 16)
        {
            (Vector512.Load(destination) + value).Store(destination);
            return;
        }
        for (int i = 0; i < left; i++) destination[i] += value[i];
    }
}
