namespace DeepSeekV3.Tokenization;

/// <summary>
/// Learns a byte-level BPE with DeepSeek-V3's pre-tokenizer and token layout: ids 0–2 are BOS/EOS/PAD, 3–258 the 256
/// bytes, then one id per merge, then the FIM/chat/tool tokens. Deterministic: the same texts give the same files.
/// </summary>
/// <remarks>
/// Classic BPE training over distinct pre-tokenized pieces ("words") weighted by count: repeatedly merge the most
/// frequent adjacent pair (ties: the pair of smaller ids), updating pair counts only in the words that hold the pair.
/// Added tokens written literally in the corpus are cut out first, as when encoding.
/// </remarks>
public sealed class BpeTrainer
{
    private const int FirstByteId = 3;
    private readonly BpeTrainerOptions _options;
    private readonly RegexPreTokenizer _preTokenizer;
    private readonly AddedTokenMatcher _addedTokens;
    private readonly Dictionary<string, long> _pieceCounts = new(StringComparer.Ordinal);

    public BpeTrainer(BpeTrainerOptions options)
    {
        int minimum = FirstByteId + 256 + DeepSeekV3TokenizerLayout.NonSpecialAddedTokens.Count;
        if (options.VocabSize < minimum)
            throw new DeepSeekV3Exception($"vocab size {options.VocabSize} is too small: specials, bytes and added tokens need {minimum}");
        _options = options;
        _preTokenizer = new RegexPreTokenizer(options.SplitRules ?? DeepSeekV3TokenizerLayout.SplitRules);
        _addedTokens = new AddedTokenMatcher(
            DeepSeekV3TokenizerLayout.SpecialTokens.Concat(DeepSeekV3TokenizerLayout.NonSpecialAddedTokens).Select(t => new AddedToken(0, t, false)));
    }

    /// <summary>Counts the pieces of <paramref name="text"/>, using all cores for long texts.</summary>
    public void AddText(string text)
    {
        Utf16Validation.ThrowIfLoneSurrogate(text);
        var chunks = LineChunks(text, target: 1 << 18);
        var partial = new Dictionary<string, long>[chunks.Count];
        Parallel.For(0, chunks.Count, i => partial[i] = CountPieces(text.AsSpan(chunks[i].Start, chunks[i].Length)));
        foreach (var counts in partial)
        {
            foreach (var (piece, count) in counts)
                _pieceCounts[piece] = _pieceCounts.GetValueOrDefault(piece) + count;
        }
    }

    /// <summary>Learns the merges and returns the tokenizer (tokenizer.json part) and its tokenizer_config.json part.</summary>
    public (TokenizerDefinition Definition, TokenizerConfig Config) Train()
    {
        var tokens = new List<string>(DeepSeekV3TokenizerLayout.SpecialTokens);
        for (int b = 0; b < 256; b++)
            tokens.Add(ByteLevelAlphabet.Encode((byte)b).ToString());
        int maxModelTokens = _options.VocabSize - DeepSeekV3TokenizerLayout.NonSpecialAddedTokens.Count;
        var merges = new BpeMergeLearner(WordsInOrdinalOrder(), _options.MinFrequency).Learn(tokens, maxModelTokens);

        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < tokens.Count; id++)
            vocab.TryAdd(tokens[id], id);
        var added = DeepSeekV3TokenizerLayout.SpecialTokens.Select((t, id) => new AddedToken(id, t, Special: true)).ToList();
        int next = tokens.Count;
        foreach (string t in DeepSeekV3TokenizerLayout.NonSpecialAddedTokens)
            added.Add(new AddedToken(next++, t, Special: false));

        var definition = new TokenizerDefinition(vocab, merges, added, _options.SplitRules ?? DeepSeekV3TokenizerLayout.SplitRules);
        var config = new TokenizerConfig(AddBosToken: true, AddEosToken: false, DeepSeekV3TokenizerLayout.BosToken,
            DeepSeekV3TokenizerLayout.EosToken, DeepSeekV3TokenizerLayout.EosToken, ChatTemplate.Jinja, ModelMaxLength: 131072);
        return (definition, config);
    }

    /// <summary>Trains on UTF-8 files and writes tokenizer.json and tokenizer_config.json into <paramref name="outputDirectory"/>.</summary>
    public static ByteLevelBpeTokenizer TrainFiles(IReadOnlyList<string> inputFiles, BpeTrainerOptions options, string outputDirectory)
    {
        var trainer = new BpeTrainer(options);
        foreach (string file in inputFiles)
        {
            if (!File.Exists(file))
                throw new TokenizerFileException($"{file}: training input not found");
            try
            {
                trainer.AddText(Utf16Validation.DecodeStrict(File.ReadAllBytes(file)));
            }
            catch (TokenizerInputException e)
            {
                throw new TokenizerFileException($"{file}: {e.Message}", e);
            }
        }
        var (definition, config) = trainer.Train();
        Directory.CreateDirectory(outputDirectory);
        TokenizerJsonWriter.WriteTokenizerJson(definition, Path.Combine(outputDirectory, "tokenizer.json"));
        TokenizerJsonWriter.WriteTokenizerConfig(config, Path.Combine(outputDirectory, "tokenizer_config.json"));
        return ByteLevelBpeTokenizer.Load(outputDirectory);
    }

    private Dictionary<string, long> CountPieces(ReadOnlySpan<char> text)
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var lookup = counts.GetAlternateLookup<ReadOnlySpan<char>>();
        var pieces = new List<(int Start, int Length)>();
        int position = 0;
        while (position < text.Length)
        {
            int end = _addedTokens.TryFindNext(text, position, out int start, out int length, out _) ? start : text.Length;
            pieces.Clear();
            _preTokenizer.Split(text[position..end], pieces);
            foreach (var (s, l) in pieces)
            {
                var piece = text.Slice(position + s, l);
                lookup[piece] = lookup.TryGetValue(piece, out long c) ? c + 1 : 1;
            }
            position = end == text.Length ? end : start + length;
        }
        return counts;
    }

    private List<(int[] Symbols, long Count)> WordsInOrdinalOrder()
    {
        var words = new List<(int[], long)>(_pieceCounts.Count);
        foreach (var piece in _pieceCounts.Keys.Order(StringComparer.Ordinal))
        {
            byte[] bytes = System.Text.Encoding.UTF8.GetBytes(piece);
            words.Add(([.. bytes.Select(b => FirstByteId + b)], _pieceCounts[piece]));
        }
        return words;
    }

    // Chunks cut between a newline and a non-space character: no pre-tokenizer piece spans such a point (pieces
    // holding a newline end in whitespace), so counting chunk by chunk gives exactly the whole text's counts.
    private static List<(int Start, int Length)> LineChunks(string text, int target)
    {
        var chunks = new List<(int, int)>();
        int start = 0;
        while (start < text.Length)
        {
            int end = start + target;
            while (end < text.Length && !(text[end - 1] == '\n' && !char.IsWhiteSpace(text[end])))
                end++;
            end = Math.Min(end, text.Length);
            chunks.Add((start, end - start));
            start = end;
        }
        return chunks;
    }
}
