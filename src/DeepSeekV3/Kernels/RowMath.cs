using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DeepSeekV3.Kernels;

/// <summary>
/// The small per-row operations of a decode step on raw fp32 memory: dot products, axpy, RMSNorm, SwiGLU, softmax,
/// bf16 conversion. Each is one pass over a row that sits in L1; AVX-512 where the row is long enough.
/// </summary>
public static unsafe class RowMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int n)
    {
        var sum = Vector512<float>.Zero;
        int i = 0;
        for (; i <= n - 16; i += 16)
            sum = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), sum);
        float s = Vector512.Sum(sum);
        for (; i < n; i++) s += a[i] * b[i];
        return s;
    }

    /// <summary>a·b where b is bf16 (widened exactly).</summary>
    public static float DotBf16(float* a, ushort* b, int n)
    {
        var sum = Vector512<float>.Zero;
        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            sum = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), LoadBf16(b + i), sum);
        }
        float s = Vector512.Sum(sum);
        for (; i < n; i++) s += a[i] * Bf16ToFloat(b[i]);
        return s;
    }

    /// <summary>y += a·x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Axpy(float* y, float a, float* x, int n)
    {
        var va = Vector512.Create(a);
        int i = 0;
        for (; i <= n - 16; i += 16)
            Vector512.FusedMultiplyAdd(va, Vector512.Load(x + i), Vector512.Load(y + i)).Store(y + i);
        for (; i < n; i++) y[i] += a * x[i];
    }

    /// <summary>y += a·x where x is bf16 (widened exactly).</summary>
    public static void AxpyBf16(float* y, float a, ushort* x, int n)
    {
        var va = Vector512.Create(a);
        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            Vector512.FusedMultiplyAdd(va, LoadBf16(x + i), Vector512.Load(y + i)).Store(y + i);
        }
        for (; i < n; i++) y[i] += a * Bf16ToFloat(x[i]);
    }

    /// <summary>a·b where b is one row of a block-scaled FP8 E4M3 weight: each 128-column block's partial sum times
    /// its scale (<paramref name="scales"/>: the row's scales, one per block).</summary>
    public static float DotFp8(float* a, byte* b, float* scales, int n)
    {
        float s = 0;
        for (int block = 0, start = 0; start < n; block++, start += WeightMatrix.BlockSize)
        {
            int end = Math.Min(n, start + WeightMatrix.BlockSize), i = start;
            var sum = Vector512<float>.Zero;
            for (; i <= end - 16; i += 16)
                sum = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), LoadFp8(b + i), sum);
            float partial = Vector512.Sum(sum);
            for (; i < end; i++) partial += a[i] * Fp8ToFloat(b[i]);
            s += partial * scales[block];
        }
        return s;
    }

    /// <summary>y += a·x where x is one row of a block-scaled FP8 E4M3 weight (scales as <see cref="DotFp8"/>).</summary>
    public static void AxpyFp8(float* y, float a, byte* x, float* scales, int n)
    {
        for (int block = 0, start = 0; start < n; block++, start += WeightMatrix.BlockSize)
        {
            int end = Math.Min(n, start + WeightMatrix.BlockSize), i = start;
            float scaled = a * scales[block];
            var va = Vector512.Create(scaled);
            for (; i <= end - 16; i += 16)
                Vector512.FusedMultiplyAdd(va, LoadFp8(x + i), Vector512.Load(y + i)).Store(y + i);
            for (; i < end; i++) y[i] += scaled * Fp8ToFloat(x[i]);
        }
    }

    /// <summary>One row of a block-scaled FP8 E4M3 weight as fp32: code · its block's scale.</summary>
    public static void WidenFp8(byte* source, float* scales, float* destination, int n)
    {
        for (int block = 0, start = 0; start < n; block++, start += WeightMatrix.BlockSize)
        {
            int end = Math.Min(n, start + WeightMatrix.BlockSize), i = start;
            var scale = Vector512.Create(scales[block]);
            for (; i <= end - 16; i += 16) (LoadFp8(source + i) * scale).Store(destination + i);
            for (; i < end; i++) destination[i] = Fp8ToFloat(source[i]) * scales[block];
        }
    }

    /// <summary>y += x.</summary>
    public static void Add(float* y, float* x, int n)
    {
        int i = 0;
        for (; i <= n - 16; i += 16)
            (Vector512.Load(y + i) + Vector512.Load(x + i)).Store(y + i);
        for (; i < n; i++) y[i] += x[i];
    }

    /// <summary>y = weight ⊙ x / sqrt(mean(x²) + eps) (statistics in fp32 as HF's DeepseekV3RMSNorm; docs/reference-notes.md#rmsnorm-rounding-order).</summary>
    public static void RmsNorm(float* x, float* weight, float* y, int n, float eps)
    {
        float meanSquare = Dot(x, x, n) / n;
        float scale = 1f / MathF.Sqrt(meanSquare + eps);
        for (int i = 0; i < n; i++) y[i] = weight[i] * (x[i] * scale);
    }

    /// <summary>gate = silu(gate) ⊙ up, in place (SwiGLU's activation, as <see cref="Modeling.SwiGluMlp"/>).</summary>
    public static void SiluMul(float* gate, float* up, int n)
    {
        int i = 0;
        for (; i <= n - 16; i += 16)
        {
            var g = Vector512.Load(gate + i);
            (g / (Vector512<float>.One + Exp(-g)) * Vector512.Load(up + i)).Store(gate + i);
        }
        for (; i < n; i++)
        {
            float g = gate[i];
            gate[i] = g / (1f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>In-place softmax over n values, max-subtracted.</summary>
    public static void Softmax(float* x, int n)
    {
        var vmax = Vector512.Create(float.NegativeInfinity);
        int i = 0;
        for (; i <= n - 16; i += 16) vmax = Vector512.Max(vmax, Vector512.Load(x + i));
        float max = MaxOf(vmax);
        for (; i < n; i++) max = MathF.Max(max, x[i]);
        var vm = Vector512.Create(max);
        var vsum = Vector512<float>.Zero;
        for (i = 0; i <= n - 16; i += 16)
        {
            var e = Exp(Vector512.Load(x + i) - vm);
            e.Store(x + i);
            vsum += e;
        }
        float sum = Vector512.Sum(vsum);
        for (; i < n; i++) sum += x[i] = MathF.Exp(x[i] - max);
        var inverse = Vector512.Create(1f / sum);
        for (i = 0; i <= n - 16; i += 16) (Vector512.Load(x + i) * inverse).Store(x + i);
        for (; i < n; i++) x[i] *= inverse[0];
    }

    /// <summary>
    /// e^x per lane, within 2 ulp of MathF.Exp over the fp32 range: x = n·ln2 + f with |f| ≤ ln2/2 (ln2 split in two
    /// parts so f is exact), e^f by its degree-6 Taylor-like minimax polynomial (Cephes' expf coefficients), times 2^n
    /// built in the exponent bits. Below −87.3 (where e^x leaves the normal range) the result is 0, as with
    /// flush-to-zero, so a masked −∞ score gets probability exactly 0 and no denormal reaches later arithmetic; above
    /// 88 it is e^88. NaN stays NaN. Inlined, unlike Vector512.Exp, which goes through double precision out of line
    /// and was most of a softmax's time.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var clamped = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.33654f)), Vector512.Create(88f));
        var n = Vector512.Round(clamped * Vector512.Create(1.44269504f));
        var f = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), clamped);
        f = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), f);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, f, Vector512.Create(5.0000001201e-1f));
        p = Vector512.FusedMultiplyAdd(p, f * f, f) + Vector512<float>.One;
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        var result = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512.Create(-87.33654f)), Vector512<float>.Zero, p * scale);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
    }

    private static float MaxOf(Vector512<float> v)
    {
        float max = float.NegativeInfinity;
        for (int i = 0; i < 16; i++) max = MathF.Max(max, v[i]);
        return max;
    }

    /// <summary>
    /// cos and sin of position·θ_p, times YaRN's attention factor, for every pair p (θ: the inverse frequencies after
    /// YaRN's correction, <see cref="Modeling.YarnRotaryEmbedding.InverseFrequencies"/>): the angle in fp32, as
    /// <see cref="Modeling.YarnRotaryEmbedding.Angles"/> computes it. cos and sin: θ.Length floats each.
    /// </summary>
    public static void RopeAngles(float position, ReadOnlySpan<float> inverseFrequencies, float attentionFactor, float* cos, float* sin)
    {
        for (int p = 0; p < inverseFrequencies.Length; p++)
        {
            float angle = position * inverseFrequencies[p];
            cos[p] = MathF.Cos(angle) * attentionFactor;
            sin[p] = MathF.Sin(angle) * attentionFactor;
        }
    }

    /// <summary>Rotates adjacent pairs (2i, 2i+1) of x by the angles whose cos/sin are given (docs/reference-notes.md#rope-pair-layout).</summary>
    public static void Rotate(float* x, float* cos, float* sin, int pairs)
    {
        for (int i = 0; i < pairs; i++)
        {
            float even = x[2 * i], odd = x[2 * i + 1];
            x[2 * i] = even * cos[i] - odd * sin[i];
            x[2 * i + 1] = even * sin[i] + odd * cos[i];
        }
    }

    public static void Widen(ushort* source, float* destination, int n)
    {
        int i = 0;
        for (; i <= n - 16; i += 16)
            LoadBf16(source + i).Store(destination + i);
        for (; i < n; i++) destination[i] = Bf16ToFloat(source[i]);
    }

    /// <summary>fp32 → bf16 with round-to-nearest-even, as LibTorch's conversion (NaN stays NaN).</summary>
    public static void Narrow(float* source, ushort* destination, int n)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; i <= n - 16; i += 16)
            {
                // The scalar rule below, 16 lanes at a time: add 0x7FFF plus the kept lowest bit, keep the upper half.
                var value = Vector512.Load(source + i);
                var bits = value.AsUInt32();
                var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) >> 16;
                var nan = (bits >> 16) | Vector512.Create(0x40u);
                var chosen = Vector512.ConditionalSelect(Vector512.IsNaN(value).AsUInt32(), nan, rounded);
                Vector256.Narrow(chosen.GetLower(), chosen.GetUpper()).Store(destination + i);
            }
        for (; i < n; i++) destination[i] = FloatToBf16(source[i]);
    }

    /// <summary>16 bf16 values as fp32 (exact): bf16 is the upper half of an fp32, so widen and shift into place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadBf16(ushort* p) =>
        Vector512.ShiftLeft(Vector512.WidenLower(Vector256.Load(p).ToVector512()), 16).AsSingle();

    /// <summary>
    /// 16 E4M3 codes as fp32, exactly for every finite code (subnormals and ±0 included): sign-extend each byte to 32
    /// bits, shift the 7 exponent-and-mantissa bits to the top of an fp32's exponent/mantissa (bits 20-26) and keep the
    /// sign at bit 31; that fp32 is the code's value times 2^(7−127) (an fp32 subnormal for code exponent 0, which is
    /// still exact), so one multiply by 2^120 rebiases. Four instructions, no table. The NaN codes 0x7F/0xFF come out
    /// as ±480 instead of NaN: checkpoints hold none (the quantizer saturates at ±448).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadFp8(byte* p) => LoadFp8Shifted(p) * Vector512.Create(Fp8Rebias);

    /// <summary>
    /// <see cref="LoadFp8"/> without its rebiasing multiply: the 16 codes' values times 2^−120 (subnormal codes as fp32
    /// subnormals, exact). For a kernel that folds <see cref="Fp8Rebias"/> into its other operand and so widens a code
    /// in three instructions instead of four.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadFp8Shifted(byte* p)
    {
        var bytes = Vector128.Load((sbyte*)p);
        Vector512<int> codes = Avx512F.IsSupported
            ? Avx512F.ConvertToVector512Int32(bytes)                                             // vpmovsxbd
            : Vector512.Create(Vector256.Create(Vector128.WidenLower(Vector128.WidenLower(bytes)), Vector128.WidenUpper(Vector128.WidenLower(bytes))),
                               Vector256.Create(Vector128.WidenLower(Vector128.WidenUpper(bytes)), Vector128.WidenUpper(Vector128.WidenUpper(bytes))));
        return (Vector512.ShiftLeft(codes, 20) & Vector512.Create(unchecked((int)0x87F00000))).AsSingle();
    }

    /// <summary>One E4M3 code times 2^−120, the scalar twin of <see cref="LoadFp8Shifted"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fp8ToShifted(byte code) => BitConverter.Int32BitsToSingle(((sbyte)code << 20) & unchecked((int)0x87F00000));

    /// <summary>One E4M3 code as fp32, the scalar twin of <see cref="LoadFp8"/> (same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fp8ToFloat(byte code) => Fp8ToShifted(code) * Fp8Rebias;

    /// <summary>2^(127−7): from an E4M3 exponent placed in fp32's exponent field to the fp32 exponent; a code's value
    /// over its <see cref="LoadFp8Shifted"/> form.</summary>
    public const float Fp8Rebias = (float)(1L << 60) * (1L << 60);

    public static float Bf16ToFloat(ushort value) => BitConverter.Int32BitsToSingle(value << 16);

    public static ushort FloatToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }
}
