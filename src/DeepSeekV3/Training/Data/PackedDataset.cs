using DeepSeekV3.Randomness;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Document packing (report §4.1): documents, after FIM, are concatenated with EOS after each into one stream per
/// split, and the stream is cut into windows of T + 1 tokens that overlap by one (window i starts at i·T), so every
/// token is a target exactly once. No attention mask separates documents inside a window — as in the report.
/// Documents go to the validation split by a seeded draw, before packing, so no document is in both.
/// The packed streams are held in memory (4 bytes per token).
/// </summary>
public sealed class PackedDataset
{
    private readonly int[] _train;
    private readonly int[] _validation;

    private PackedDataset(int sequenceLength, int[] train, int[] validation, long trainDocuments, long validationDocuments)
    {
        SequenceLength = sequenceLength;
        _train = train;
        _validation = validation;
        TrainDocuments = trainDocuments;
        ValidationDocuments = validationDocuments;
    }

    public int SequenceLength { get; }
    public long TrainDocuments { get; }
    public long ValidationDocuments { get; }
    public long TrainTokens => _train.Length;
    public long ValidationTokens => _validation.Length;
    public long TrainWindows => WindowCount(_train);
    public long ValidationWindows => WindowCount(_validation);

    public static PackedDataset Build(IDocumentCollection documents, ITokenEncoder encoder, DataOptions options)
    {
        if (options.SequenceLength < 2)
            throw new InvalidArgumentException($"sequence length {options.SequenceLength}: expected at least 2");
        var fim = FillInTheMiddle.For(encoder, options.FimRate, options.Seed);
        var isValidation = ValidationSplit(documents.Count, options.ValidationFraction, options.Seed);
        var train = new List<int>();
        var validation = new List<int>();
        var scratch = new List<int>();
        long validationDocuments = 0;
        for (long d = 0; d < documents.Count; d++)
        {
            var target = isValidation[d] ? validation : train;
            if (isValidation[d]) validationDocuments++;
            target.AddRange(fim.Apply(documents.Document(d), d, scratch));
            target.Add(encoder.EosId);
        }
        var dataset = new PackedDataset(options.SequenceLength, train.ToArray(), validation.ToArray(),
                                        documents.Count - validationDocuments, validationDocuments);
        if (dataset.TrainWindows == 0)
            throw new InvalidArgumentException(
                $"the training split has {train.Count} tokens: not enough for one window of {options.SequenceLength + 1}");
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

    private long WindowCount(int[] stream) => stream.Length <= SequenceLength ? 0 : (stream.Length - 1) / SequenceLength;

    /// <summary>Window <paramref name="index"/> of a split: tokens [index·T, index·T + T].</summary>
    public ReadOnlySpan<int> Window(long index, bool validation)
    {
        var stream = validation ? _validation : _train;
        long count = WindowCount(stream);
        if (index < 0 || index >= count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"window not in [0, {count})");
        return stream.AsSpan((int)(index * SequenceLength), SequenceLength + 1);
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
