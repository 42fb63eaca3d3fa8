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
/// Fine-tuning data (<see cref="Pack"/>) also carries a loss mask per token: <see cref="Labels"/> then gives each
/// window's targets with the untrained ones (prompts) replaced by <see cref="IgnoredLabel"/>.
/// Pre-training replay (<see cref="MixPretraining"/>) appends whole pre-training windows to the training split, each
/// trained on every token as in pre-training.
/// </summary>
public sealed class PackedDataset
{
    /// <summary>The label of a token that is not a training target (PyTorch's cross-entropy ignore_index).</summary>
    public const long IgnoredLabel = -100;

    private readonly int[] _stream;
    private readonly bool[]? _trained;
    private readonly int[]? _document;
    private readonly int _trainLength, _validationLength;
    private readonly int[] _mixed;                                                        // [MixedWindows × (T + 1)]

    private PackedDataset(int sequenceLength, int[] stream, bool[]? trained, int[]? document, int trainLength, int validationLength,
        long trainDocuments, long validationDocuments, bool validationFromTail, int[]? mixed = null)
    {
        _mixed = mixed ?? [];
        SequenceLength = sequenceLength;
        _stream = stream;
        _trained = trained;
        _document = document;
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

    public long TrainTokens => _trainLength + MixedWindows * (SequenceLength + 1L);
    public long ValidationTokens => _validationLength;

    /// <summary>Training windows: the packed ones [0, TrainWindows − MixedWindows), then the mixed pre-training ones.</summary>
    public long TrainWindows => WindowCount(_trainLength) + MixedWindows;

    /// <summary>Pre-training windows mixed into the training split (<see cref="MixPretraining"/>); 0 without a mix.</summary>
    public long MixedWindows => _mixed.Length / (SequenceLength + 1);

    /// <summary>The segment number of every token of a mixed pre-training window: one document per window, so it
    /// attends causally across the whole window with positions 0..T − 1, as pre-training did.</summary>
    public const long MixedSegment = -1;
    public long ValidationWindows => WindowCount(_validationLength);

    /// <summary>True for fine-tuning data, where only some tokens are targets (see <see cref="Labels"/>).</summary>
    public bool HasLossMask => _trained is not null;

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
        return Split(t, stream, trained: null, document: null, length, trainLength, documents.Count, validationDocuments, options.ValidationFraction);
    }

    /// <summary>
    /// Fine-tuning sequences packed like documents (report §5.1: "packed sequences"): each example already holds BOS
    /// and the EOS closing every assistant turn, so they are concatenated as they are; the loss mask travels with the
    /// tokens, and so does each token's example number: <see cref="Segments"/> gives it per window, for the report's
    /// "sample masking" (<see cref="Modeling.ForwardContext.Segments"/>: no attention across examples, positions
    /// restarting per example).
    /// </summary>
    public static PackedDataset Pack(IReadOnlyList<SupervisedExample> examples, DataOptions options)
    {
        int t = options.SequenceLength;
        if (t < 2)
            throw new InvalidArgumentException($"sequence length {t}: expected at least 2");
        var isValidation = ValidationSplit(examples.Count, options.ValidationFraction, options.Seed);
        long capacity = examples.Sum(e => (long)e.Tokens.Length);
        if (capacity > Array.MaxLength)
            throw new InvalidArgumentException($"--data: {capacity:N0} tokens; in-memory packing holds at most {Array.MaxLength:N0}");
        var stream = new int[capacity];
        var trained = new bool[capacity];
        var document = new int[capacity];
        int length = 0, trainLength = 0;
        long validationExamples = 0;
        foreach (bool validation in (ReadOnlySpan<bool>)[false, true])                    // training examples first
        {
            for (int e = 0; e < examples.Count; e++)
            {
                if (isValidation[e] != validation) continue;
                examples[e].Tokens.CopyTo(stream, length);
                examples[e].Trained.CopyTo(trained, length);
                document.AsSpan(length, examples[e].Tokens.Length).Fill(e);
                length += examples[e].Tokens.Length;
                if (validation) validationExamples++;
            }
            if (!validation) trainLength = length;
        }
        return Split(t, stream, trained, document, length, trainLength, examples.Count, validationExamples, options.ValidationFraction);
    }

    /// <summary>
    /// Pre-training replay in fine-tuning: this dataset with training windows of <paramref name="pretraining"/> added,
    /// so that they make <paramref name="ratio"/> of the training windows (rounded to whole windows), as Megatron-LM's
    /// blended datasets weight their sources by samples (<c>--data-path 0.8 chat 0.2 pretrain</c>); <see
    /// cref="DataCursor"/> interleaves the two sources by Megatron's blending rule, so every prefix of an epoch holds
    /// the ratio to within one window. The windows are a seeded draw without repetition from the pre-training
    /// training split (never its validation documents); each is trained on all its tokens, with plain causal attention
    /// (<see cref="MixedSegment"/>). Validation stays this dataset's own.
    /// </summary>
    public PackedDataset MixPretraining(PackedDataset pretraining, double ratio, long seed)
    {
        if (!(ratio >= 0 && ratio < 1))
            throw new InvalidArgumentException($"--mix-ratio {ratio}: expected a share of the training windows in [0, 1)");
        if (MixedWindows > 0)
            throw new InvalidArgumentException("this dataset already holds mixed pre-training windows");
        if (pretraining.SequenceLength != SequenceLength)
            throw new InvalidArgumentException(
                $"pre-training windows of {pretraining.SequenceLength + 1} tokens: expected {SequenceLength + 1}, this dataset's");
        long own = WindowCount(_trainLength);
        long count = (long)Math.Round(own * ratio / (1 - ratio), MidpointRounding.AwayFromZero);
        long available = pretraining.TrainWindows - pretraining.MixedWindows;
        if (count > available)
            throw new InvalidArgumentException(
                $"--mix-ratio {ratio}: {count:N0} pre-training windows needed beside {own:N0} fine-tuning windows; the pre-training data has {available:N0}");
        int width = SequenceLength + 1;
        var mixed = new int[count * width];
        var order = SplitMix64.Permutation(available, seed, 0x4D495850);                   // "MIXP"
        for (long i = 0; i < count; i++)
            pretraining.Window(order[i], validation: false).CopyTo(mixed.AsSpan((int)(i * width), width));
        return new PackedDataset(SequenceLength, _stream, _trained, _document, _trainLength, _validationLength,
            TrainDocuments, ValidationDocuments, ValidationFromTail, mixed);
    }

    /// <summary>The dataset over stream[0, length) with [trainLength, length) held out; when the held-out documents
    /// fill no window, the stream's tail instead (if training keeps at least one window).</summary>
    private static PackedDataset Split(int t, int[] stream, bool[]? trained, int[]? document, int length, int trainLength, long documents,
        long validationDocuments, double fraction)
    {
        bool fromTail = false;
        if (fraction > 0 && WindowCount(length - trainLength, t) == 0)
        {
            // No whole-document validation window: hold out the stream's tail if training keeps at least one window.
            int tail = (int)Math.Max(Math.Ceiling(fraction * length), t + 1);
            fromTail = length - tail > t;
            trainLength = fromTail ? length - tail : length;
            validationDocuments = 0;
        }
        int validationLength = length - trainLength;
        var dataset = new PackedDataset(t, stream, trained, document, trainLength, validationLength,
                                        documents - validationDocuments, validationDocuments, fromTail);
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
        if (IsMixed(index, validation))
            return _mixed.AsSpan((int)(index - WindowCount(_trainLength)) * (SequenceLength + 1), SequenceLength + 1);
        return _stream.AsSpan(WindowStart(index, validation), SequenceLength + 1);
    }

    /// <summary>True for a mixed pre-training window (<see cref="MixPretraining"/>).</summary>
    public bool IsMixed(long index, bool validation) => !validation && index >= WindowCount(_trainLength);

    private int WindowStart(long index, bool validation) => (validation ? _trainLength : 0) + (int)(index * SequenceLength);

    /// <summary>The given windows' labels, [n, T + 1] int64: each token where it is a training target, else
    /// <see cref="IgnoredLabel"/>; null for pre-training data, where every token is a target (caller owns it).</summary>
    public Tensor? Labels(IReadOnlyList<long> windows, bool validation)
    {
        if (_trained is null) return null;
        var values = new long[windows.Count * (SequenceLength + 1)];
        for (int i = 0; i < windows.Count; i++)
        {
            var window = Window(windows[i], validation);
            bool mixed = IsMixed(windows[i], validation);                                 // every token trained
            int start = mixed ? 0 : WindowStart(windows[i], validation);
            for (int j = 0; j < window.Length; j++)
                values[i * (SequenceLength + 1) + j] = mixed || _trained[start + j] ? window[j] : IgnoredLabel;
        }
        return tensor(values, [windows.Count, SequenceLength + 1], ScalarType.Int64);
    }

    /// <summary>The given windows' example numbers, [n, T + 1] int64 (non-decreasing along a row), for document
    /// masking; null for pre-training data, whose documents share the window's attention (caller owns it).</summary>
    public Tensor? Segments(IReadOnlyList<long> windows, bool validation)
    {
        if (_document is null) return null;
        var values = new long[windows.Count * (SequenceLength + 1)];
        for (int i = 0; i < windows.Count; i++)
        {
            Window(windows[i], validation);                                               // validates the index
            bool mixed = IsMixed(windows[i], validation);
            int start = mixed ? 0 : WindowStart(windows[i], validation);
            for (int j = 0; j <= SequenceLength; j++)
                values[i * (SequenceLength + 1) + j] = mixed ? MixedSegment : _document[start + j];
        }
        return tensor(values, [windows.Count, SequenceLength + 1], ScalarType.Int64);
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
