using DeepSeekV3.Randomness;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Document packing (report §4.1): documents, after FIM, are concatenated with EOS after each into one stream per
/// split, and the stream is cut into windows of T + 1 tokens that overlap by one (window i starts at i·T), so every
/// token is a target exactly once. No attention mask separates documents inside a window — as in the report.
/// Validation: documents go to the validation split by a seeded draw, before packing, so no document is in both.
/// When that split has no full window (a single document, e.g. one large text file, or held-out documents shorter
/// than T + 1), the last ValidationFraction of the packed stream (at least one window) is held out instead, as
/// nanoGPT's prepare scripts split one text into train and val. Both splits are views of one array in memory
/// (4 bytes per token): training documents first, then validation documents.
/// </summary>
public sealed class PackedDataset
{
    private readonly int[] _stream;
    private readonly int _trainLength, _validationLength;

    private PackedDataset(int sequenceLength, int[] stream, int trainLength, int validationLength,
        long trainDocuments, long validationDocuments, bool validationFromTail)
    {
        SequenceLength = sequenceLength;
        _stream = stream;
        _trainLength = trainLength;
        _validationLength = validationLength;
        TrainDocuments = trainDocuments;
        ValidationDocuments = validationDocuments;
        ValidationFromTail = validationFromTail;
    }

    public int SequenceLength { get; }
    public long TrainDocuments { get; }

    /// <summary>Whole documents held out (0 when the validation split is the stream's tail).</summary>
    public long ValidationDocuments { get; }

    /// <summary>True when the validation split is the last share of the packed stream rather than whole documents.</summary>
    public bool ValidationFromTail { get; }

    public long TrainTokens => _trainLength;
    public long ValidationTokens => _validationLength;
    public long TrainWindows => WindowCount(_trainLength);
    public long ValidationWindows => WindowCount(_validationLength);

    public static PackedDataset Build(IDocumentCollection documents, ITokenEncoder encoder, DataOptions options)
    {
        int t = options.SequenceLength;
        if (t < 2)
            throw new InvalidArgumentException($"sequence length {t}: expected at least 2");
        var fim = FillInTheMiddle.For(encoder, options.FimRate, options.Seed);
        var isValidation = ValidationSplit(documents.Count, options.ValidationFraction, options.Seed);
        // Sized once (FIM adds at most three tokens, packing one EOS): a growing list would hold up to 3× the
        // stream while it doubles and copies, which matters for a single large document.
        long capacity = 0;
        for (long d = 0; d < documents.Count; d++)
            capacity += documents.Document(d).Length + 4L;
        if (capacity > Array.MaxLength)
            throw new InvalidArgumentException(
                $"--data: about {capacity:N0} tokens; in-memory packing holds at most {Array.MaxLength:N0}");
        var stream = GC.AllocateUninitializedArray<int>((int)capacity);                   // every used slot is written below
        var scratch = new List<int>();
        int length = 0, trainLength = 0;
        long validationDocuments = 0;
        foreach (bool validation in (ReadOnlySpan<bool>)[false, true])                    // training documents first
        {
            for (long d = 0; d < documents.Count; d++)
            {
                if (isValidation[d] != validation) continue;
                var tokens = fim.Apply(documents.Document(d), d, scratch);
                tokens.CopyTo(stream.AsSpan(length));
                length += tokens.Length;
                stream[length++] = encoder.EosId;
                if (validation) validationDocuments++;
            }
            if (!validation) trainLength = length;
        }
        bool fromTail = false;
        if (options.ValidationFraction > 0 && WindowCount(length - trainLength, t) == 0)
        {
            // No whole-document validation window: hold out the stream's tail if training keeps at least one window.
            int tail = (int)Math.Max(Math.Ceiling(options.ValidationFraction * length), t + 1);
            fromTail = length - tail > t;
            trainLength = fromTail ? length - tail : length;
            validationDocuments = 0;
        }
        int validationLength = length - trainLength;
        var dataset = new PackedDataset(t, stream, trainLength, validationLength,
                                        documents.Count - validationDocuments, validationDocuments, fromTail);
        if (dataset.TrainWindows == 0)
            throw new InvalidArgumentException(
                $"the training split has {trainLength} tokens: not enough for one window of {t + 1}");
        return dataset;
    }

    /// <summary>Seeded per-document draw; if it picks none (tiny inputs) and there are ≥ 2 documents, the last one.</summary>
    private static bool[] ValidationSplit(long count, double fraction, long seed)
    {
        var result = new bool[count];
        if (fraction <= 0 || count < 2) return result;
        bool any = false;
        for (long d = 0; d < count; d++)
        {
            var rng = new SplitMix64(seed, 0x56414C00 + d);
            result[d] = rng.NextDouble() < fraction;
            any |= result[d];
        }
        if (!any) result[count - 1] = true;
        return result;
    }

    private long WindowCount(int tokens) => WindowCount(tokens, SequenceLength);

    private static long WindowCount(int tokens, int sequenceLength) => tokens <= sequenceLength ? 0 : (tokens - 1) / sequenceLength;

    /// <summary>Window <paramref name="index"/> of a split: tokens [index·T, index·T + T].</summary>
    public ReadOnlySpan<int> Window(long index, bool validation)
    {
        long count = validation ? ValidationWindows : TrainWindows;
        if (index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"window not in [0, {count})");
        int start = (validation ? _trainLength : 0) + (int)(index * SequenceLength);
        return _stream.AsSpan(start, SequenceLength + 1);
    }

    /// <summary>The given windows as a [n, T + 1] int64 tensor (caller owns it).</summary>
    public Tensor Batch(IReadOnlyList<long> windows, bool validation)
    {
        var values = new long[windows.Count * (SequenceLength + 1)];
        for (int i = 0; i < windows.Count; i++)
        {
            var window = Window(windows[i], validation);
            for (int j = 0; j < window.Length; j++)
                values[i * (SequenceLength + 1) + j] = window[j];
        }
        return tensor(values, [windows.Count, SequenceLength + 1], ScalarType.Int64);
    }
}
