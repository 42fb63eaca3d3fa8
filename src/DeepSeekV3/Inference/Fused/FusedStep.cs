using DeepSeekV3.Configuration;
using DeepSeekV3.Kernels;

namespace DeepSeekV3.Inference.Fused;

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

    /// <param name="stepsPerSequence">Token rows per sequence this pass: each sequence's rows are consecutive.</param>
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

    /// <summary>
    /// The GEMM a prefill chunk's linear layers run on (many rows), or null: the decode kernels (<see cref="Gemv"/>,
    /// up to <see cref="Gemv.MaxRows"/> rows, split over <see cref="Team"/>).
    /// </summary>
    public TileGemm? Gemm { get; init; }

    /// <summary>y [m, w.Rows] = x [m, w.Columns] · Wᵀ, see <see cref="Multiply(TileGemm?, WorkerTeam?, in WeightMatrix, float*, int, float*)"/>.</summary>
    public void Multiply(in WeightMatrix w, float* x, int m, float* y) => Multiply(Gemm, Team, w, x, m, y);

    /// <summary>
    /// y [m, w.Rows] = x [m, w.Columns] · Wᵀ: on <paramref name="gemm"/> when there is one and more than
    /// <see cref="Gemv.MaxRows"/> rows, else on the decode kernels over <paramref name="team"/> (null: this thread).
    /// A chunk's few-row products (an expert chosen by ≤ 16 of its rows, the last row of the last block) read the
    /// weight once either way, and the decode kernels read it at bandwidth, exactly, without a dequantized tile.
    /// </summary>
    public static void Multiply(TileGemm? gemm, WorkerTeam? team, in WeightMatrix w, float* x, int m, float* y)
    {
        if (gemm is not null && m > Gemv.MaxRows) gemm.Multiply(x, m, w, y);
        else w.Multiply(x, m, y, team);
    }

    /// <summary>
    /// y [m, w.Rows] = x [m, w.Columns] · Wᵀ on the decode kernels (exact fp32 arithmetic) for any m, 16 rows at a
    /// time: for a small weight whose outputs decide something discrete (the router's expert choice), where bf16
    /// rounding would flip near-ties. Such a weight stays in cache across the row blocks.
    /// </summary>
    public void MultiplyExact(in WeightMatrix w, float* x, int m, float* y)
    {
        for (int i = 0; i < m; i += Gemv.MaxRows)
            w.Multiply(x + (long)i * w.Columns, Math.Min(Gemv.MaxRows, m - i), y + (long)i * w.Rows, Team);
    }

    /// <summary>Stage timings to add to, or null (not profiling).</summary>
    public DecodeProfile? Profile { get; init; }

    /// <summary>A clock whose laps charge this pass's stages (reads no clock when not profiling).</summary>
    public StageClock Clock() => new(Profile);

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
            RowMath.RopeAngles(RowPosition[i], _inverseFrequencies, _attentionFactor, Scratch.Cos + i * pairs, Scratch.Sin + i * pairs);
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
    /// Eqs. (9)-(11) over the latent cache for one query row at <paramref name="position"/> of
    /// <paramref name="sequence"/> and heads [headFirst, headLast) (see <see cref="LatentAttention.Attend"/>):
    /// query [heads, r_kv + d_r], outputLatent [heads, r_kv]; temp: the calling member's own scratch.
    /// </summary>
    public void Attend(int sequence, long position, float* query, float* outputLatent, int headFirst, int headLast, float* temp) =>
        LatentAttention.Attend(new LatentAttention.Pages(_pool, _cache.IsBf16, _config.KvLoraRank, _config.QkRopeHeadDim,
                _cache.BlockSize, _cache.Blocks(sequence)),
            keys: (int)position + 1, query, outputLatent, headFirst, headLast, Scratch.Scores, _scoreStride, temp, _softmaxScale);
}
