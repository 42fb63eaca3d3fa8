using DeepSeekV3.Randomness;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Fill-in-the-Middle in PSM form (report §4.1), applied per document before packing: with probability Rate the
/// document's tokens are cut at two random points into prefix, middle and suffix and rearranged as
/// <c>&lt;|fim_begin|&gt; prefix &lt;|fim_hole|&gt; suffix &lt;|fim_end|&gt; middle</c>; the packer then appends EOS.
/// The cut is on token boundaries of the cached ids (the report cuts text); the decision and the cut points depend
/// only on (seed, document index).
/// </summary>
public sealed record FillInTheMiddle(double Rate, int FimBeginId, int FimHoleId, int FimEndId, long Seed)
{
    public static FillInTheMiddle For(ITokenEncoder encoder, double rate, long seed) =>
        new(rate, encoder.FimBeginId, encoder.FimHoleId, encoder.FimEndId, seed);

    /// <summary>The document as it enters packing (the same array when not transformed).</summary>
    public ReadOnlySpan<int> Apply(ReadOnlySpan<int> document, long documentIndex, List<int> scratch)
    {
        var rng = new SplitMix64(Seed, 0x46494D00 + documentIndex);
        if (Rate <= 0 || document.Length < 2 || rng.NextDouble() >= Rate)
            return document;
        long a = rng.NextLong(document.Length + 1), b = rng.NextLong(document.Length + 1);
        int start = (int)Math.Min(a, b), end = (int)Math.Max(a, b);
        scratch.Clear();
        scratch.EnsureCapacity(document.Length + 3);                                       // one allocation, not log2(n)
        scratch.Add(FimBeginId);
        scratch.AddRange(document[..start]);                                               // prefix
        scratch.Add(FimHoleId);
        scratch.AddRange(document[end..]);                                                 // suffix
        scratch.Add(FimEndId);
        scratch.AddRange(document[start..end]);                                            // middle
        return System.Runtime.InteropServices.CollectionsMarshal.AsSpan(scratch);
    }
}
