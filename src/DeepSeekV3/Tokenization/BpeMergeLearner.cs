namespace DeepSeekV3.Tokenization;

/// <summary>
/// The merge loop of BPE training over weighted words. Pair counts live in a dictionary, the best pair comes from
/// a max-heap that is validated lazily (an entry whose count changed is pushed again with the current count), and
/// each merge only revisits the words that contain its pair.
/// </summary>
internal sealed class BpeMergeLearner
{
    private readonly List<(int[] Symbols, long Count)> _words;
    private readonly long _minFrequency;
    private readonly Dictionary<long, long> _pairCounts = new(PairKeyComparer.Instance);
    private readonly Dictionary<long, List<int>> _pairWords = new(PairKeyComparer.Instance);
    // Max count first, then the smaller pair key (left id, then right id): a total order, so training is deterministic.
    private readonly PriorityQueue<long, (long Count, long Pair)> _queue = new(Comparer<(long Count, long Pair)>.Create(
        (a, b) => a.Count != b.Count ? b.Count.CompareTo(a.Count) : a.Pair.CompareTo(b.Pair)));

    public BpeMergeLearner(List<(int[] Symbols, long Count)> words, int minFrequency)
    {
        _words = words;
        _minFrequency = Math.Max(1, minFrequency);
        for (int w = 0; w < words.Count; w++)
        {
            var (symbols, count) = words[w];
            for (int i = 0; i + 1 < symbols.Length; i++)
                AddPair(Key(symbols[i], symbols[i + 1]), count, w);
        }
        foreach (var (pair, count) in _pairCounts)
            _queue.Enqueue(pair, (count, pair));
    }

    /// <summary>Learns merges until <paramref name="tokens"/> holds <paramref name="maxTokens"/> strings (each merge
    /// appends its new string; one whose string already exists reuses that token).</summary>
    public List<(string Left, string Right)> Learn(List<string> tokens, int maxTokens)
    {
        var merges = new List<(string, string)>();
        var idOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++)
            idOf.TryAdd(tokens[id], id);
        var visited = new int[_words.Count];
        while (tokens.Count < maxTokens && _queue.TryDequeue(out long pair, out var entry))
        {
            long current = _pairCounts.GetValueOrDefault(pair);
            if (current != entry.Count)
            {
                if (current > 0 && current < entry.Count)
                    _queue.Enqueue(pair, (current, pair));
                continue;
            }
            if (current < _minFrequency)
                break;
            int left = (int)(pair >> 32), right = (int)(uint)pair;
            string merged = tokens[left] + tokens[right];
            if (!idOf.TryGetValue(merged, out int newId))
            {
                newId = tokens.Count;
                tokens.Add(merged);
                idOf[merged] = newId;
            }
            merges.Add((tokens[left], tokens[right]));
            ApplyMerge(pair, left, right, newId, visited, merges.Count);
        }
        return merges;
    }

    private void ApplyMerge(long pair, int left, int right, int newId, int[] visited, int stamp)
    {
        var increased = new HashSet<long>();
        foreach (int w in _pairWords[pair])
        {
            if (visited[w] == stamp)
                continue;
            visited[w] = stamp;
            var (symbols, count) = _words[w];
            for (int i = 0; i + 1 < symbols.Length; i++)
                AddPair(Key(symbols[i], symbols[i + 1]), -count, -1);
            int n = 0;
            for (int i = 0; i < symbols.Length; i++)
            {
                if (i + 1 < symbols.Length && symbols[i] == left && symbols[i + 1] == right)
                {
                    symbols[n++] = newId;
                    i++;
                }
                else
                {
                    symbols[n++] = symbols[i];
                }
            }
            var merged = symbols[..n];
            _words[w] = (merged, count);
            for (int i = 0; i + 1 < n; i++)
            {
                long p = Key(merged[i], merged[i + 1]);
                AddPair(p, count, merged[i] == newId || merged[i + 1] == newId ? w : -1);
                if (merged[i] == newId || merged[i + 1] == newId)
                    increased.Add(p);
            }
        }
        _pairWords.Remove(pair);
        foreach (long p in increased.Order())
            _queue.Enqueue(p, (_pairCounts[p], p));
    }

    private void AddPair(long pair, long delta, int word)
    {
        _pairCounts[pair] = _pairCounts.GetValueOrDefault(pair) + delta;
        if (word < 0)
            return;
        if (!_pairWords.TryGetValue(pair, out var list))
            _pairWords[pair] = list = [];
        if (list.Count == 0 || list[^1] != word)
            list.Add(word);
    }

    private static long Key(int left, int right) => ((long)left << 32) | (uint)right;
}
