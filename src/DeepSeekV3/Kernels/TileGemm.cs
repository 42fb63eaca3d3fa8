using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Kernels;

/// <summary>
/// Y = X·Wᵀ for many rows of X (prefill: a chunk of prompt positions) over a weight kept as stored (fp32, bf16 or
/// block-scaled FP8, <see cref="WeightMatrix"/>): W is dequantized a tile of rows at a time into a scratch tensor in
/// the compute precision and multiplied with LibTorch's cache-blocked GEMM, so each weight is read from memory once per
/// chunk instead of once per 16 rows (<see cref="Gemv"/>), and no full-size dequantized copy ever exists. With a
/// <paramref name="team"/> of two or more the tiles are shared among its members, each dequantizing its own and running
/// LibTorch's GEMM on it single-threaded (<see cref="OpenMpThreads"/>); without one (or where that is unavailable)
/// LibTorch's GEMM runs on its own threads (<c>torch.set_num_threads</c>). Not thread-safe: one per decoder.
/// </summary>
public sealed unsafe class TileGemm(GemmPrecision precision, WorkerTeam? team = null)
{
    /// <summary>
    /// Bytes of one dequantized weight tile. The tile is written by the dequantizer and then read by the GEMM once per
    /// block of X rows it takes: it should stay in the core's L2 (1 MiB per core on the Zen 4 EPYC this was measured
    /// on, 1–2 MiB on recent Intel) between the two, next to the GEMM's own packed panels of X — so half of L2.
    /// Larger tiles spill to L3 and gain nothing (the GEMM's cost per tile call, ~10 µs, is already under 2% of a
    /// tile's multiply at 256 rows of X); smaller ones pay that call more often.
    /// </summary>
    public const int TileBytes = 512 << 10;

    /// <summary>Tile rows are a multiple of this: the fp32 lanes of an AVX-512 register, the width GEMM kernels block
    /// output columns by; a ragged last tile is fine.</summary>
    private const int RowAlign = 16;

    /// <summary>Each team member's fp32 row buffer (FP8/F32 rows on their way to bf16).</summary>
    private readonly float[][] _rows = new float[team?.Size ?? 1][];
    private readonly OpenMpThreads? _openMp = team is { Size: > 1 } ? OpenMpThreads.Find() : null;

    public GemmPrecision Precision => precision;

    private ScalarType Dtype => precision == GemmPrecision.Bf16 ? ScalarType.BFloat16 : ScalarType.Float32;

    private int ElementBytes => precision == GemmPrecision.Bf16 ? 2 : 4;

    /// <summary>Rows of W per tile for rows of <paramref name="columns"/> elements: <see cref="TileBytes"/> worth, a
    /// multiple of 16, at least 16.</summary>
    public int TileRows(int columns) => Math.Max(RowAlign, TileBytes / (columns * ElementBytes) / RowAlign * RowAlign);

    /// <summary>y [m, w.Rows] = x [m, w.Columns] · Wᵀ, row-major and contiguous, fp32.</summary>
    public void Multiply(float* x, int m, in WeightMatrix w, float* y) =>
        MultiplyRows(x, m, w.Columns, w, 0, w.Rows, y, w.Rows);

    /// <summary>
    /// y[i, j] = Σ_c x[i, c] · W[first + j, c] for i &lt; m, j &lt; count: rows [first, first + count) of W (a head's
    /// slice of kv_b) against x [m, w.Columns]; x rows <paramref name="xStride"/> floats apart, y rows
    /// <paramref name="yStride"/> apart.
    /// </summary>
    public void MultiplyRows(float* x, int m, int xStride, in WeightMatrix w, int first, int count, float* y, int yStride)
    {
        CheckRange(w, first, count, m);
        int k = w.Columns, tileRows = Math.Min(count, TileRows(k)), tiles = (count + tileRows - 1) / tileRows;
        using var input = Input(x, m, xStride, k);                                  // [m, k]
        var weight = w;
        void Tiles(int member, int step)                                            // tiles member, member + step, ...
        {
            using var tile = empty([tileRows, k], Dtype);
            byte* tileData = Data(tile);
            for (int t = member; t < tiles; t += step)
            {
                int start = t * tileRows, rows = Math.Min(tileRows, count - start);
                Dequantize(weight, first + start, rows, tileData, member);
                using var part = tile.narrow(0, 0, rows);                           // leading rows: contiguous
                using var transposed = part.t();
                using var product = mm(input, transposed);                          // [m, rows]
                Output(product, m, rows, y + start, yStride);
            }
        }
        if (_openMp is { } openMp && tiles > 1)
            team!.Run(member => openMp.Single(() => Tiles(member, team.Size)));
        else
            Tiles(0, 1);
    }

    /// <summary>
    /// y [m, w.Columns] = x [m, count] · W[first .. first + count): the rows as the inner dimension (a head's W_UK
    /// slice of kv_b, [d_nope, r_kv], absorbed into the queries). One tile: such slices are small (count ≤ a head's
    /// width); x rows <paramref name="xStride"/> floats apart, y rows <paramref name="yStride"/> apart.
    /// </summary>
    public void MultiplyByRows(float* x, int m, int xStride, in WeightMatrix w, int first, int count, float* y, int yStride)
    {
        CheckRange(w, first, count, m);
        using var input = Input(x, m, xStride, count);                              // [m, count]
        using var tile = empty([count, w.Columns], Dtype);
        Dequantize(w, first, count, Data(tile), member: 0);
        using var product = mm(input, tile);                                        // [m, w.Columns]
        Output(product, m, w.Columns, y, yStride);
    }

    private static void CheckRange(in WeightMatrix w, int first, int count, int m)
    {
        if (first < 0 || count < 1 || first + count > w.Rows || m < 1)
            throw new InvalidArgumentException($"GEMM over rows [{first}, {first + count}) of a [{w.Rows}, {w.Columns}] " +
                                               $"weight for {m} input rows: expected 0 ≤ first < first + count ≤ {w.Rows} and m ≥ 1");
    }

    /// <summary>x [m, k] (rows xStride apart) as a contiguous tensor in the compute precision.</summary>
    private Tensor Input(float* x, int m, int xStride, int k)
    {
        var input = empty([m, k], Dtype);
        byte* data = Data(input);
        for (int i = 0; i < m; i++)
            if (precision == GemmPrecision.Bf16) RowMath.Narrow(x + (long)i * xStride, (ushort*)data + (long)i * k, k);
            else Buffer.MemoryCopy(x + (long)i * xStride, (float*)data + (long)i * k, k * 4L, k * 4L);
        return input;
    }

    /// <summary>W rows [first, first + rows) in the compute precision into tile [rows, w.Columns]: exact widening to
    /// fp32 (FP8 code × its block's scale), then round-to-nearest-even to bf16 unless the weight is bf16 already.</summary>
    private void Dequantize(in WeightMatrix w, int first, int rows, byte* tile, int member)
    {
        int k = w.Columns;
        if (precision == GemmPrecision.F32)
        {
            for (int r = 0; r < rows; r++) w.CopyRow(first + r, (float*)tile + (long)r * k);
            return;
        }
        if (w.Format == WeightFormat.Bf16)
        {
            Buffer.MemoryCopy(w.Row(first), tile, (long)rows * k * 2, (long)rows * k * 2);
            return;
        }
        if ((_rows[member]?.Length ?? 0) < k) _rows[member] = GC.AllocateArray<float>(k, pinned: true);
        fixed (float* row = _rows[member])
            for (int r = 0; r < rows; r++)
            {
                w.CopyRow(first + r, row);
                RowMath.Narrow(row, (ushort*)tile + (long)r * k, k);
            }
    }

    /// <summary>product [m, columns] (compute precision) into y as fp32, rows yStride apart.</summary>
    private void Output(Tensor product, int m, int columns, float* y, int yStride)
    {
        byte* data = Data(product);
        for (int i = 0; i < m; i++)
            if (precision == GemmPrecision.Bf16) RowMath.Widen((ushort*)data + (long)i * columns, y + (long)i * yStride, columns);
            else Buffer.MemoryCopy((float*)data + (long)i * columns, y + (long)i * yStride, columns * 4L, columns * 4L);
    }

    /// <summary>A contiguous CPU tensor's first byte (the tensor owns it and must stay alive).</summary>
    private static byte* Data(Tensor t)
    {
        fixed (byte* p = t.bytes) return p;
    }
}
