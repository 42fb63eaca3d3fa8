using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSeekV3.Kernels;

/// <summary>
/// Absorbed MLA attention of one query row over a paged latent cache (report eqs. 9-11 with W_UK and W_UV absorbed):
/// each cache row is [c_kv ; k_pe] (r_kv + d_r floats, fp32 or bf16), and each head's query has the same layout
/// [absorbed latent query ; rotated RoPE query], so one dot product scores both parts.
/// </summary>
public static unsafe class LatentAttention
{
    /// <summary>One sequence's cache layer: the pool's base address, its element type, the row layout, the block
    /// size, and the sequence's block table (block i holds positions i·BlockSize..).</summary>
    public readonly record struct Pages(nint Pool, bool Bf16, int LatentRank, int RopeDim, int BlockSize, IReadOnlyList<int> Blocks)
    {
        public int Width => LatentRank + RopeDim;
    }

    /// <summary>
    /// Scores of heads [headFirst, headLast) against the first <paramref name="keys"/> cache rows, times
    /// <paramref name="scale"/>, softmax per head, then the probability-weighted latent per head into outputLatent
    /// [heads, r_kv]. query [heads, r_kv + d_r]; scores: per head a row of <paramref name="stride"/> ≥ keys floats;
    /// temp: 16·BlockSize floats of the calling thread's own. Scores go a cache block at a time through the
    /// <see cref="Gemv"/> kernel (query heads as its rows, the block's keys as its weight rows).
    /// </summary>
    public static void Attend(Pages pages, int keys, float* query, float* outputLatent, int headFirst, int headLast,
        float* scores, int stride, float* temp, float scale)
    {
        int r = pages.LatentRank, width = pages.Width, size = pages.BlockSize;
        bool bf16 = pages.Bf16;
        long blockBytes = (long)size * width * (bf16 ? 2 : 4);
        var blocks = pages.Blocks;
        for (int first = 0; first < keys; first += size)
        {
            int count = Math.Min(size, keys - first);
            byte* block = (byte*)pages.Pool + blocks[first / size] * blockBytes;
            for (int h0 = headFirst; h0 < headLast; h0 += Gemv.MaxRows)
            {
                int rows = Math.Min(Gemv.MaxRows, headLast - h0);
                Gemv.MultiplyRange(query + h0 * width, rows, block, bf16, count, width, temp, 0, count);
                for (int h = 0; h < rows; h++)
                    for (int t = 0; t < count; t++)
                        scores[(h0 + h) * stride + first + t] = temp[h * count + t] * scale;
            }
        }
        for (int h = headFirst; h < headLast; h++) RowMath.Softmax(scores + h * stride, keys);

        // out_latent[h] = Σ_t p[h, t] · latent[t]: a cache block at a time (it stays in L1 for every pass over it,
        // and the next block is prefetched meanwhile), four heads × 16 latent dims in registers at a time.
        new Span<float>(outputLatent + headFirst * r, (headLast - headFirst) * r).Clear();
        for (int first = 0; first < keys; first += size)
        {
            int count = Math.Min(size, keys - first);
            byte* latent = (byte*)pages.Pool + blocks[first / size] * blockBytes;
            if (first + size < keys)
                for (byte* next = (byte*)pages.Pool + blocks[first / size + 1] * blockBytes, stop = next + blockBytes; next < stop; next += 64)
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
