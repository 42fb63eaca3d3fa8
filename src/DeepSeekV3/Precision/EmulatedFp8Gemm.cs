using System.Numerics;
using static TorchSharp.torch;

namespace DeepSeekV3.Precision;

/// <summary>
/// An FP8 GEMM on the CPU that gives an H800's numbers (model: <see cref="Fp8Accumulation"/>). Inputs are exact E4M3
/// values with their tile scales. Every tensor-core instruction (<see cref="Fp8Accumulation.InstructionK"/> = 32
/// products) is summed exactly (a batched float32 matmul: products of E4M3 values have 8 significant bits, so the
/// float32 sum is exact but for spreads beyond 2^16 within one instruction); its sum is added to the tensor-core
/// accumulator, which is then truncated to <see cref="Fp8Accumulation.AccumulatorBits"/> significant bits (round
/// toward zero, as the hardware's right-shifted alignment does). At each promotion the accumulator is multiplied by
/// scale_a · scale_b of its 128-group and added to an FP32 accumulator (DeepGEMM's <c>final_accum += scale_a ·
/// scale_b · accum</c>), and restarts from 0.
/// <para>Promotion intervals longer than a 128-group (or none) have no place to apply per-group scales on real tensor
/// cores; here each instruction's sum enters the accumulator already scaled, which keeps the accumulator's precision
/// — what such a run is meant to show — and its magnitudes as they would be with one per-tensor scale.</para>
/// <para>Simplification: within one instruction the hardware also aligns the 32 products to the largest exponent and
/// drops bits below its window; the emulation sums them exactly, so it errs, if at all, on the accurate side.</para>
/// <para>Cost: the products are one batched matmul with K = 32, which is memory-bound (it writes M×N floats per 32
/// products), plus one vectorized C# pass over the same M×N×K/32 floats for the truncating accumulation: about
/// 2–4× a float32 GEMM of the same shape here. Intermediate partial sums are bounded to ~32 MB per chunk of K.</para>
/// </summary>
public sealed class EmulatedFp8Gemm : IFp8Gemm
{
    private const long ChunkElements = 1L << 23;

    public EmulatedFp8Gemm(Fp8Accumulation? accumulation = null)
    {
        Accumulation = accumulation ?? Fp8Accumulation.Promoted;
        Accumulation.Validate();
    }

    public Fp8Accumulation Accumulation { get; }

    /// <summary>A [M, K] · B [N, K]ᵀ → [M, N] float32, a new tensor owned by the caller.</summary>
    public Tensor Multiply(QuantizedMatrix a, QuantizedMatrix b)
    {
        const int group = TileQuantization.GroupSize;
        if (a.Columns != b.Columns || a.TileColumns != group || b.TileColumns != group)
            throw new QuantizationException(
                $"fp8 gemm: expected A [M, K] and B [N, K] with tiles {group} wide along K, found A [{a.Rows}, {a.Columns}] " +
                $"(tiles {a.TileRows}×{a.TileColumns}) and B [{b.Rows}, {b.Columns}] (tiles {b.TileRows}×{b.TileColumns})");
        long m = a.Rows, n = b.Rows;
        long padded = QuantizedMatrix.CeilDiv(a.Columns, group) * group;
        int width = Accumulation.InstructionK;
        long instructions = padded / width;
        long perGroup = group / width;
        long perChunk = Math.Max(1, ChunkElements / Math.Max(1, m * n) / perGroup) * perGroup;

        using var scope = NewDisposeScope();
        var aValues = Values(a, padded);                                                    // [M, Kp] exact E4M3 values
        var bValues = Values(b, padded);                                                    // [N, Kp]
        var aScales = RowScales(a);                                                         // [M, G]
        var bScales = RowScales(b).t().contiguous();                                        // [G, N]
        var accumulator = zeros(m, n);                                                      // tensor-core partial sums
        var output = zeros(m, n);                                                           // FP32 accumulator
        for (long first = 0; first < instructions; first += perChunk)
        {
            using var chunkScope = NewDisposeScope();
            long count = Math.Min(perChunk, instructions - first);
            var aPart = aValues.narrow(1, first * width, count * width).reshape(m, count, width).permute(1, 0, 2); // [J, M, w]
            var bPart = bValues.narrow(1, first * width, count * width).reshape(n, count, width).permute(1, 2, 0); // [J, w, N]
            using var partials = aPart.bmm(bPart).contiguous();                             // [J, M, N] per instruction
            Accumulate(partials, first, instructions, aScales, bScales, accumulator, output);
        }
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Codes as float32 values, zero-padded along K to whole groups (a zero code adds nothing).</summary>
    private static Tensor Values(QuantizedMatrix q, long paddedColumns)
    {
        var values = q.Codes.to_type(ScalarType.Float32);
        return paddedColumns == q.Columns ? values : nn.functional.pad(values, new[] { 0, paddedColumns - q.Columns });
    }

    /// <summary>Each row's scale per 128-group: [rows, G] float32 (a 128×128 block's scale repeated over its rows).</summary>
    private static Tensor RowScales(QuantizedMatrix q) =>
        q.Scales.to_type(ScalarType.Float32).repeat_interleave(q.TileRows, 0).narrow(0, 0, q.Rows).contiguous();

    private unsafe void Accumulate(Tensor partials, long first, long total, Tensor aScales, Tensor bScales, Tensor accumulator, Tensor output)
    {
        var shape = new Shape((int)partials.shape[0], (int)partials.shape[1], (int)partials.shape[2], (int)bScales.shape[0],
            first, total, Accumulation);
        fixed (byte* p = partials.bytes, sa = aScales.bytes, sb = bScales.bytes, acc = accumulator.bytes, o = output.bytes)
        {
            nint pp = (nint)p, psa = (nint)sa, psb = (nint)sb, pacc = (nint)acc, po = (nint)o;
            int threads = Math.Min(get_num_threads(), Environment.ProcessorCount);
            if (threads <= 1 || shape.Rows < 2 * threads)
                AccumulateRows(shape, 0, shape.Rows, pp, psa, psb, pacc, po);
            else
            {
                int block = (shape.Rows + threads - 1) / threads;
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                    AccumulateRows(shape, t * block, Math.Min(shape.Rows, (t + 1) * block), pp, psa, psb, pacc, po));
            }
        }
    }

    /// <summary>One chunk of instructions: J partial-sum matrices [J, Rows, Cols] starting at instruction <c>First</c>
    /// of <c>Total</c>, with scales for <c>Groups</c> 128-groups.</summary>
    private readonly record struct Shape(int Instructions, int Rows, int Columns, int Groups, long First, long Total, Fp8Accumulation Accumulation);

    private static unsafe void AccumulateRows(Shape s, int fromRow, int toRow, nint partials, nint aScales, nint bScales, nint accumulator, nint output)
    {
        int width = s.Accumulation.InstructionK, interval = s.Accumulation.PromotionInterval;
        bool scaledInside = interval == 0 || interval > TileQuantization.GroupSize;
        int mask = s.Accumulation.AccumulatorBits >= 24 ? -1 : ~((1 << (24 - s.Accumulation.AccumulatorBits)) - 1);
        for (int row = fromRow; row < toRow; row++)
        {
            float* acc = (float*)accumulator + (long)row * s.Columns, outRow = (float*)output + (long)row * s.Columns;
            for (int jj = 0; jj < s.Instructions; jj++)
            {
                long j = s.First + jj;
                int g = (int)(j * width / TileQuantization.GroupSize);
                float* p = (float*)partials + ((long)jj * s.Rows + row) * s.Columns;
                float sa = ((float*)aScales)[(long)row * s.Groups + g];
                float* sb = (float*)bScales + (long)g * s.Columns;
                bool promote = interval > 0 ? (j + 1) * width % interval == 0 : j == s.Total - 1;
                AccumulateRow(acc, p, sa, sb, s.Columns, mask, scaledInside, promote, outRow);
            }
        }
    }

    /// <summary>acc = truncate(acc + partial) per column; on promotion out += scale·acc and acc = 0.</summary>
    private static unsafe void AccumulateRow(float* acc, float* partial, float sa, float* sb, int columns, int mask,
        bool scaledInside, bool promote, float* output)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var maskV = new Vector<int>(mask);
            var saV = new Vector<float>(sa);
            for (; i <= columns - Vector<float>.Count; i += Vector<float>.Count)
            {
                var scale = saV * Vector.Load(sb + i);
                var c = Vector.Load(partial + i);
                if (scaledInside) c *= scale;
                var sum = Vector.AsVectorSingle(Vector.AsVectorInt32(Vector.Load(acc + i) + c) & maskV);
                if (promote)
                {
                    Vector.Store(Vector.Load(output + i) + (scaledInside ? sum : scale * sum), output + i);
                    sum = Vector<float>.Zero;
                }
                Vector.Store(sum, acc + i);
            }
        }
        for (; i < columns; i++)
        {
            float scale = sa * sb[i];
            float c = scaledInside ? partial[i] * scale : partial[i];
            float sum = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(acc[i] + c) & mask);
            if (promote)
            {
                output[i] += scaledInside ? sum : scale * sum;
                sum = 0;
            }
            acc[i] = sum;
        }
    }
}
