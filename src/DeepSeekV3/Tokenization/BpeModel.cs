namespace DeepSeekV3.Tokenization;

/// <summary>
/// The BPE model of a byte-level tokenizer: a vocabulary of byte-level strings and a ranked list of merges.
/// Encoding a piece starts from one token per byte and repeatedly applies the lowest-ranked merge present (leftmost
/// first), exactly as HF <c>tokenizers</c>' <c>Word::merge_all</c> does.
/// </summary>
/// <remarks>
/// Pieces up to 64 bytes use a scan over cached pair ranks (tiktoken's method); longer ones a heap over a linked list, so a 10 MB piece
/// costs O(n log n) — Microsoft.ML.Tokenizers 2.0.1's BpeTokenizer is quadratic there (160 K letters: 6.4 s).
/// </remarks>
public sealed class BpeModel
{
    private const int HeapThreshold = 64;
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly int[] _byteIds = new int[256];
    private readonly bool _ignoreMerges;

    /// <param name="vocab">token string (byte-level characters) → id</param>
    /// <param name="merges">pairs in rank order; both sides and their concatenation must be in <paramref name="vocab"/></param>
    /// <param name="ignoreMerges">HF's <c>ignore_merges</c>: a piece that is itself in the vocabulary is one token</param>
    public BpeModel(IReadOnlyDictionary<string, int> vocab, IReadOnlyList<(string Left, string Right)> merges, bool ignoreMerges = false)
    {
        Vocab = vocab;
        _ignoreMerges = ignoreMerges;
        int maxId = vocab.Count == 0 ? -1 : vocab.Values.Max();
        var tokens = new string?[maxId + 1];
        foreach (var (token, id) in vocab)
        {
            if (id < 0)
                throw new TokenizerFileException($"model.vocab: token '{token}' has negative id {id}");
            tokens[id] = token;
        }
        IdToToken = tokens;
        for (int b = 0; b < 256; b++)
            _byteIds[b] = vocab.TryGetValue(ByteLevelAlphabet.Encode((byte)b).ToString(), out int id) ? id : -1;

        _merges = new Dictionary<long, (int, int)>(merges.Count, PairKeyComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocab.TryGetValue(left, out int l) || !vocab.TryGetValue(right, out int r))
                throw new TokenizerFileException($"model.merges[{rank}]: '{left} {right}' uses a token missing from model.vocab");
            if (!vocab.TryGetValue(left + right, out int merged))
                throw new TokenizerFileException($"model.merges[{rank}]: result '{left + right}' is missing from model.vocab");
            _merges.TryAdd(Key(l, r), (rank, merged)); // HF keeps the first rank of a duplicated merge too
        }
        MergeCount = merges.Count;
    }

    public IReadOnlyDictionary<string, int> Vocab { get; }

    /// <summary>Token string per id; null where the id is not in the vocabulary.</summary>
    public IReadOnlyList<string?> IdToToken { get; }

    public int MergeCount { get; }

    /// <summary>Appends the ids of one pre-tokenized piece, given as UTF-8 bytes, to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<byte> piece, List<int> output) => Encode(piece, output, out _);

    /// <inheritdoc cref="Encode(ReadOnlySpan{byte}, List{int})"/>
    /// <param name="steps">The merge loop's elementary steps (see <see cref="MergeByScan"/> and
    /// <see cref="MergeByHeap"/>): a measure of its cost that, unlike a stopwatch, does not depend on the machine.</param>
    internal void Encode(ReadOnlySpan<byte> piece, List<int> output, out long steps)
    {
        steps = 0;
        if (_ignoreMerges && Vocab.TryGetValue(ByteLevelAlphabet.Encode(piece), out int whole))
        {
            output.Add(whole);
            return;
        }
        // A byte missing from the vocabulary is dropped, as HF does when there is no unk token and no byte fallback.
        var symbols = new int[piece.Length];
        int n = 0;
        foreach (byte b in piece)
        {
            if (_byteIds[b] >= 0)
                symbols[n++] = _byteIds[b];
        }
        if (n <= HeapThreshold)
            n = MergeByScan(symbols, n, out steps);
        else
            n = MergeByHeap(symbols, n, out steps);
        for (int i = 0; i < n; i++)
            output.Add(symbols[i]);
    }

    /// <param name="steps">pair ranks compared and symbols shifted, summed over the merges: about n² / 2</param>
    internal int MergeByScan(int[] symbols, int n, out long steps)
    {
        steps = 0;
        // ranks[i] is the rank of the pair (symbols[i], symbols[i+1]); after a merge only its two neighbours change,
        // so each step costs one scan over ints and two lookups.
        Span<int> ranks = n <= 256 ? stackalloc int[n] : new int[n];
        Span<int> ids = n <= 256 ? stackalloc int[n] : new int[n];
        for (int i = 0; i + 1 < n; i++)
            (ranks[i], ids[i]) = Lookup(symbols[i], symbols[i + 1]);
        while (n > 1)
        {
            int best = 0;
            for (int i = 1; i + 1 < n; i++)
            {
                if (ranks[i] < ranks[best])
                    best = i;
            }
            if (ranks[best] == int.MaxValue)
                break;
            symbols[best] = ids[best];
            int tail = n - best - 2;
            steps += n + tail;
            Array.Copy(symbols, best + 2, symbols, best + 1, tail);
            ranks.Slice(best + 2, tail).CopyTo(ranks[(best + 1)..]);
            ids.Slice(best + 2, tail).CopyTo(ids[(best + 1)..]);
            n--;
            if (best > 0)
                (ranks[best - 1], ids[best - 1]) = Lookup(symbols[best - 1], symbols[best]);
            if (best + 1 < n)
                (ranks[best], ids[best]) = Lookup(symbols[best], symbols[best + 1]);
        }
        return n;
    }

    private (int Rank, int Id) Lookup(int left, int right) =>
        _merges.TryGetValue(Key(left, right), out var m) ? m : (int.MaxValue, 0);

    /// <param name="steps">queue entries popped plus the heap levels their pushes and pops moved through:
    /// O(n log n)</param>
    internal int MergeByHeap(int[] symbols, int n, out long steps)
    {
        // Doubly linked list over positions; a removed position has prev == -2. Queue entries are (rank, position)
        // and are re-validated when popped, like HF's Word::merge_all.
        var prev = new int[n];
        var next = new int[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        var initial = new long[n + n / 2];
        int queued = 0;
        for (int i = 0; i + 1 < n; i++)
        {
            if (_merges.TryGetValue(Key(symbols[i], symbols[i + 1]), out var m))
                initial[queued++] = QueueKey(m.Rank, i);
        }
        var queue = new MergeQueue(initial, queued);

        while (queue.TryPop(out long key))
        {
            int pos = (int)(uint)key;
            if (prev[pos] == -2 || next[pos] < 0)
                continue;
            int right = next[pos];
            if (!_merges.TryGetValue(Key(symbols[pos], symbols[right]), out var m) || m.Rank != (int)(key >> 32))
                continue;
            symbols[pos] = m.Id;
            next[pos] = next[right];
            if (next[right] >= 0)
                prev[next[right]] = pos;
            prev[right] = -2;
            if (prev[pos] >= 0)
                Push(queue, symbols, prev[pos], pos);
            if (next[pos] >= 0)
                Push(queue, symbols, pos, next[pos]);
        }

        steps = queue.Steps;
        int count = 0;
        for (int i = 0; i >= 0; i = next[i])
            symbols[count++] = symbols[i];
        return count;
    }

    private void Push(MergeQueue queue, int[] symbols, int left, int right)
    {
        if (_merges.TryGetValue(Key(symbols[left], symbols[right]), out var m))
            queue.Push(QueueKey(m.Rank, left));
    }

    private static long QueueKey(int rank, int position) => ((long)rank << 32) | (uint)position;

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;
}
