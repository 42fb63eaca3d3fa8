using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using DeepSeekV3.Kernels;
using DeepSeekV3.Randomness;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference;

/// <summary>
/// Turns logits into a token: temperature, then top-k, then top-p (nucleus) filtering, then a draw from the
/// sampler's own seeded generator (greedy = argmax). One sampler per request, so seeds reproduce per request.
/// The work is a few passes over one vocabulary row in C#: LibTorch's multinomial and sort each cost a noticeable share
/// of a small model's decode step, an inverse-CDF draw over the row does not (bench/SamplerBench compares the two).
/// </summary>
public sealed class Sampler
{
    private SplitMix64 _random;   // a mutable struct: not readonly, or every draw would advance a copy
    private float[] _row = [], _scratch = [], _raw = [];   // reused per call: a 129K vocabulary row would otherwise be a large-object allocation

    private readonly RepetitionPenalty? _repetition;

    public Sampler(SamplingParams parameters)
    {
        Parameters = parameters.Validated();
        _random = SplitMix64.FromState((ulong)(parameters.Seed ?? Random.Shared.NextInt64()));
        if (parameters.RepetitionPenalty != 1) _repetition = new RepetitionPenalty(parameters.RepetitionPenalty, parameters.RepetitionWindow);
    }

    /// <summary>Tells the repetition guard a token of the context (prompt or output, in order); a no-op without a
    /// penalty. <see cref="GenerationSequence"/> calls it for every token but the stop tokens.</summary>
    public void Remember(long token) => _repetition?.Remember(token);

    public SamplingParams Parameters { get; }

    /// <summary>The generator's state after every draw so far (see <see cref="Continue"/>).</summary>
    internal ulong State => _random.State;

    /// <summary>Continues a sampler of the same request made elsewhere (a prefill worker or process): its generator
    /// state after the first token, and that token's log-probabilities, so the next draws are the ones the other
    /// sampler would have made.</summary>
    internal void Continue(ulong state, TokenLogprobs? lastLogprobs)
    {
        _random = SplitMix64.FromState(state);
        LastLogprobs = lastLogprobs;
    }

    /// <summary>
    /// The distribution tokens are drawn from, fp32 [vocab] on the CPU: one-hot at the argmax when greedy.
    /// The caller owns it. Speculative decoding compares these distributions, so both models use the same rule.
    /// </summary>
    public Tensor Distribution(Tensor logits)
    {
        var probabilities = Row(logits);
        _repetition?.Apply(probabilities);
        Probabilities(probabilities);
        return tensor(probabilities.ToArray());
    }

    /// <summary>Draws one token id from <paramref name="logits"/> [vocab]; with <see cref="SamplingParams.Logprobs"/>
    /// set, also records <see cref="LastLogprobs"/>.</summary>
    public long Sample(Tensor logits)
    {
        var values = Row(logits);
        if (Parameters.Logprobs is not int top)
        {
            _repetition?.Apply(values);
            return Pick(values);
        }
        var raw = KeepRaw(values);                       // the model's own log-probabilities, as vLLM reports them; Pick filters the row in place
        _repetition?.Apply(values);
        long token = Pick(values);
        LastLogprobs = Logprobs(raw, token, top);
        return token;
    }

    /// <summary>The log-probabilities of the token <see cref="Sample"/> returned last (null unless
    /// <see cref="SamplingParams.Logprobs"/> is set).</summary>
    public TokenLogprobs? LastLogprobs { get; private set; }

    private long Pick(Span<float> values)
    {
        if (Parameters.IsGreedy) return ArgMax(values);
        Probabilities(values);
        return Draw(values);
    }

    private ReadOnlySpan<float> KeepRaw(ReadOnlySpan<float> values)
    {
        if (_raw.Length < values.Length) _raw = new float[values.Length];
        values.CopyTo(_raw);
        return _raw.AsSpan(0, values.Length);
    }

    /// <summary>log-softmax of <paramref name="logits"/> at <paramref name="token"/> and at the <paramref name="top"/>
    /// largest logits (lower ids first among ties).</summary>
    private static TokenLogprobs Logprobs(ReadOnlySpan<float> logits, long token, int top)
    {
        float max = float.NegativeInfinity;
        foreach (float v in logits) max = MathF.Max(max, v);
        double sum = 0;
        foreach (float v in logits) sum += Math.Exp(v - max);
        float logNormalizer = max + (float)Math.Log(sum);
        var best = new List<TokenLogprob>(top + 1);      // descending; a new value goes after its equals
        for (int i = 0; i < logits.Length && top > 0; i++)
        {
            if (best.Count == top && !(logits[i] > best[^1].Logprob)) continue;
            int at = best.Count;
            while (at > 0 && best[at - 1].Logprob < logits[i]) at--;
            best.Insert(at, new TokenLogprob(i, logits[i]));
            if (best.Count > top) best.RemoveAt(top);
        }
        return new TokenLogprobs(new TokenLogprob(token, logits[(int)token] - logNormalizer),
            best.Select(t => t with { Logprob = t.Logprob - logNormalizer }).ToArray());
    }

    /// <summary>Draws from a probability vector with this sampler's generator.</summary>
    public long Draw(Tensor probabilities) => Draw(Row(probabilities));

    /// <summary>A uniform number in [0, 1) from this sampler's generator.</summary>
    public double Uniform() => _random.NextDouble();

    /// <summary>
    /// Logits (or scores) [vocab] → the sampling distribution, in place: one-hot at the argmax when greedy; else
    /// softmax(logits / T) restricted to the top-k scores (ties with the k-th kept) and then to the smallest set of
    /// most likely tokens whose mass reaches top_p, renormalized.
    /// </summary>
    public void Probabilities(Span<float> values)
    {
        if (Parameters.IsGreedy)
        {
            int best = ArgMax(values);
            values.Clear();
            values[best] = 1;
            return;
        }
        float inverseTemperature = (float)(1 / Parameters.Temperature);
        for (int i = 0; i < values.Length; i++) values[i] *= inverseTemperature;
        if (Parameters.TopK > 0 && Parameters.TopK < values.Length)
        {
            float kth = KthLargest(values, Parameters.TopK, Scratch(values.Length));
            for (int i = 0; i < values.Length; i++)
                if (values[i] < kth) values[i] = float.NegativeInfinity;
        }
        Softmax(values);
        if (Parameters.TopP < 1) KeepNucleus(values, Parameters.TopP, Scratch(values.Length));
    }

    /// <summary>Draws an index with probability proportional to <paramref name="probabilities"/> (inverse CDF; the
    /// walk skips 16 entries at a time until the block that holds the target).</summary>
    public long Draw(ReadOnlySpan<float> probabilities)
    {
        double total = 0;
        int i = 0;
        for (; i + 16 <= probabilities.Length; i += 16) total += Vector512.Sum(Vector512.Create(probabilities.Slice(i, 16)));
        for (; i < probabilities.Length; i++) total += probabilities[i];
        if (!(total > 0)) throw new ArgumentException("cannot draw from a distribution with no positive probability");
        double target = _random.NextDouble() * total, cumulative = 0;
        for (i = 0; i + 16 <= probabilities.Length; i += 16)
        {
            double block = Vector512.Sum(Vector512.Create(probabilities.Slice(i, 16)));
            if (cumulative + block > target) break;
            cumulative += block;
        }
        for (; i < probabilities.Length; i++)
        {
            if (probabilities[i] <= 0) continue;
            cumulative += probabilities[i];
            if (cumulative > target) return i;
        }
        // Rounding left the target just past the running sum: the last token that can be drawn.
        for (i = probabilities.Length - 1; probabilities[i] <= 0; i--) { }
        return i;
    }

    /// <summary>A [vocab] row as fp32 in this sampler's own buffer (straight from memory when it already is fp32 on
    /// the CPU). Valid until the next call.</summary>
    private Span<float> Row(Tensor row)
    {
        // Tensor.bytes is the view's own memory (storage offset included); data<T>().ToArray() walks it element by
        // element, much more slowly.
        if (row.dtype == ScalarType.Float32 && row.device_type == TorchSharp.DeviceType.CPU && row.is_contiguous())
            return CopyToRow(MemoryMarshal.Cast<byte, float>(row.bytes));
        using var scope = NewDisposeScope();
        using var copy = row.detach().to(ScalarType.Float32).cpu().contiguous();
        return CopyToRow(MemoryMarshal.Cast<byte, float>(copy.bytes));
    }

    private Span<float> CopyToRow(ReadOnlySpan<float> values)
    {
        if (_row.Length < values.Length) _row = new float[values.Length];
        var row = _row.AsSpan(0, values.Length);
        values.CopyTo(row);
        return row;
    }

    private float[] Scratch(int length)
    {
        if (_scratch.Length < length) _scratch = new float[length];
        return _scratch;
    }

    /// <summary>First index of the largest value (torch.argmax's choice among ties): the maximum 16 lanes at a time,
    /// then its first occurrence.</summary>
    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (values.Length >= 16)
        {
            var lanes = Vector512.Create(values[..16]);
            for (i = 16; i + 16 <= values.Length; i += 16) lanes = Vector512.Max(lanes, Vector512.Create(values.Slice(i, 16)));
            for (int lane = 0; lane < 16; lane++) max = MathF.Max(max, lanes[lane]);
        }
        for (; i < values.Length; i++) max = MathF.Max(max, values[i]);
        int first = values.IndexOf(max);
        return first >= 0 ? first : 0;   // NaN everywhere: no maximum to find
    }

    /// <summary>
    /// The k-th largest value (1 ≤ k ≤ length). Small k: one pass keeping the k largest in a sorted list (after the
    /// first few thousand values almost every value fails the first comparison). Larger k: quickselect with a
    /// three-way partition on a copy in <paramref name="scratch"/>.
    /// </summary>
    private static float KthLargest(ReadOnlySpan<float> values, int k, float[] scratch)
    {
        if (k <= 64)
        {
            Span<float> best = stackalloc float[k];            // ascending: best[0] is the k-th largest so far
            best.Fill(float.NegativeInfinity);
            foreach (float v in values)
            {
                if (!(v > best[0])) continue;
                int at = 1;
                while (at < k && best[at] < v) at++;
                best[1..at].CopyTo(best[..(at - 1)]);
                best[at - 1] = v;
            }
            return best[0];
        }
        var a = scratch;
        values.CopyTo(a);
        int low = 0, high = values.Length - 1, target = k - 1;   // index in descending order
        var random = new Random(17);                              // pivot choice only; the result does not depend on it
        while (low < high)
        {
            float pivot = a[random.Next(low, high + 1)];
            Partition(a, low, high, pivot, out int greater, out int smaller);
            if (target < greater) high = greater - 1;
            else if (target > smaller) low = smaller + 1;
            else return pivot;
        }
        return a[low];
    }

    /// <summary>
    /// Three-way partition of a[low..high] around <paramref name="pivot"/>: a[low..greater) &gt; pivot,
    /// a[greater..smaller] == pivot, a(smaller..high] &lt; pivot. Returns the sum of the first part.
    /// </summary>
    private static double Partition(float[] a, int low, int high, float pivot, out int greater, out int smaller)
    {
        double greaterSum = 0;
        int i = low;
        greater = low;
        smaller = high;
        while (i <= smaller)
        {
            if (a[i] > pivot)
            {
                greaterSum += a[i];
                (a[greater], a[i]) = (a[i], a[greater]);
                greater++;
                i++;
            }
            else if (a[i] < pivot)
            {
                (a[i], a[smaller]) = (a[smaller], a[i]);
                smaller--;
            }
            else i++;
        }
        return greaterSum;
    }

    /// <summary>In-place softmax; −∞ scores get exactly 0.</summary>
    private static unsafe void Softmax(Span<float> values)
    {
        fixed (float* p = values) RowMath.Softmax(p, values.Length);
    }

    /// <summary>
    /// Zeroes every token outside the nucleus and renormalizes. The nucleus is the smallest set of most likely tokens
    /// whose mass reaches top_p: walking from the most likely down, a token is kept while the mass before it is below
    /// top_p (among equal probabilities, lower ids first). Found without sorting, in two passes over the row: the
    /// mass per bucket of the probability's leading bits finds the bucket where the walk crosses top_p, and a
    /// quickselect on mass over that bucket's few tokens finds the probability where it crosses.
    /// </summary>
    private static void KeepNucleus(Span<float> probabilities, double topP, float[] scratch)
    {
        Span<double> bucketMass = stackalloc double[Buckets];
        foreach (float p in probabilities)
            if (p > 0) bucketMass[Bucket(p)] += p;
        double above = 0;             // mass of the buckets above the boundary
        int boundary = -1;
        for (int b = Buckets - 1; b >= 0; b--)
        {
            if (above + bucketMass[b] >= topP)
            {
                boundary = b;
                break;
            }
            above += bucketMass[b];
        }
        float threshold = 0;
        int tiesKept = int.MaxValue;  // how many tokens equal to the threshold stay (lowest ids first)
        if (boundary >= 0)
        {
            int count = 0;
            foreach (float p in probabilities)
                if (p > 0 && Bucket(p) == boundary) scratch[count++] = p;
            (threshold, tiesKept) = Crossing(scratch, count, topP - above);
        }
        // boundary −1: rounding left the whole vocabulary short of top_p, and every token stays (bucket ≥ 0 > −1).
        double kept = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            float p = probabilities[i];
            int b = p > 0 ? Bucket(p) : -1;
            bool keep = b > boundary || (b == boundary && (p > threshold || (p == threshold && tiesKept-- > 0)));
            if (keep) kept += p;
            else probabilities[i] = 0;
        }
        float scale = (float)(1 / kept);
        for (int i = 0; i < probabilities.Length; i++) probabilities[i] *= scale;
    }

    /// <summary>Buckets of positive floats by exponent and 3 leading mantissa bits: a bucket's order is its values' order.</summary>
    private const int Buckets = 2048;

    private static int Bucket(float p) => (int)(BitConverter.SingleToUInt32Bits(p) >> 20) & (Buckets - 1);

    /// <summary>
    /// Walking a[0..count) from the largest value down, where the collected mass reaches <paramref name="need"/>:
    /// that value, and how many of the tokens equal to it are needed. A quickselect on mass (O(count) expected).
    /// Threshold 0 if rounding leaves all of a short of need.
    /// </summary>
    private static (float Threshold, int TiesKept) Crossing(float[] a, int count, double need)
    {
        int low = 0, high = count - 1;
        var random = new Random(17);  // pivot choice only; the result does not depend on it
        while (low <= high)
        {
            float pivot = a[random.Next(low, high + 1)];
            double greaterMass = Partition(a, low, high, pivot, out int greater, out int smaller);
            int equal = smaller - greater + 1;
            if (greaterMass >= need)
            {
                high = greater - 1;
                continue;
            }
            if (greaterMass + equal * (double)pivot >= need)
                return (pivot, Math.Min(equal, (int)Math.Ceiling((need - greaterMass) / pivot)));
            need -= greaterMass + equal * (double)pivot;     // a[low..smaller] is collected; go on below it
            low = smaller + 1;
        }
        return (0, int.MaxValue);
    }
}
