using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// An HF byte-level BPE tokenizer (DeepSeek-V3's) giving the same ids as HF <c>tokenizers</c>. Encoding: added tokens
/// are cut out of the raw text first; each remaining stretch is split by the pre-tokenizer's regexes; each piece's UTF-8
/// bytes are merged by the BPE model. Thread-safe; pieces are cached.
/// </summary>
/// <remarks>
/// BOS/EOS rule: <c>addSpecialTokens: true</c> prepends BOS when tokenizer_config.json says <c>add_bos_token</c> and
/// appends EOS when it says <c>add_eos_token</c> — what transformers' LlamaTokenizerFast does for DeepSeek-V3 (BOS id 0,
/// no EOS). A bare tokenizer.json (loaded as a file, or a directory without tokenizer_config.json) adds nothing, like
/// HF <c>tokenizers</c> with its ByteLevel post-processor. Text that merely contains "&lt;｜begin▁of▁sentence｜&gt;" always yields that token, as in HF.
/// </remarks>
public sealed class ByteLevelBpeTokenizer
{
    private const int MaxCachedPieceLength = 64;
    private const int MaxCacheEntries = 1 << 20;
    private readonly RegexPreTokenizer _preTokenizer;
    private readonly AddedTokenMatcher _addedTokens;
    private readonly byte[]?[] _tokenBytes;
    private readonly bool[] _isSpecial;
    private readonly Dictionary<int, AddedToken> _addedById;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private int _cacheEntries;

    public ByteLevelBpeTokenizer(TokenizerDefinition definition, TokenizerConfig? config = null)
    {
        Definition = definition;
        Config = config ?? TokenizerConfig.None;
        Model = new BpeModel(definition.Vocab, definition.Merges, definition.IgnoreMerges);
        _preTokenizer = new RegexPreTokenizer(definition.SplitRules);
        _addedTokens = new AddedTokenMatcher(definition.AddedTokens);
        var byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        _addedById = [];
        foreach (var t in definition.AddedTokens)
        {
            if (t.Id < 0 || !byContent.TryAdd(t.Content, t) || !_addedById.TryAdd(t.Id, t))
                throw new TokenizerFileException($"added_tokens: '{t.Content}' (id {t.Id}) has a negative or repeated id or content");
        }
        AddedTokens = byContent;

        int maxId = Math.Max(Model.IdToToken.Count - 1, definition.AddedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max());
        VocabSize = maxId + 1;
        _tokenBytes = new byte[]?[VocabSize];
        _isSpecial = new bool[VocabSize];
        for (int id = 0; id < Model.IdToToken.Count; id++)
        {
            if (Model.IdToToken[id] is string token)
                _tokenBytes[id] = TokenToBytes(token);
        }
        foreach (var t in definition.AddedTokens)
        {
            _tokenBytes[t.Id] = TokenToBytes(t.Content);
            _isSpecial[t.Id] = t.Special;
        }
        BosId = IdOf(Config.BosToken, "bos_token");
        EosId = IdOf(Config.EosToken, "eos_token");
        PadId = IdOf(Config.PadToken, "pad_token");
        Fim = FimTokens.TryFind(this);
    }

    /// <summary>
    /// Loads a model directory (tokenizer.json + tokenizer_config.json, like transformers' <c>from_pretrained</c>) or a
    /// bare tokenizer.json file (like HF <c>Tokenizer.from_file</c>: no BOS/EOS rule, no chat template).
    /// </summary>
    public static ByteLevelBpeTokenizer Load(string pathOrDirectory)
    {
        bool isDirectory = Directory.Exists(pathOrDirectory);
        string jsonPath = isDirectory ? Path.Combine(pathOrDirectory, "tokenizer.json") : pathOrDirectory;
        string configPath = Path.Combine(pathOrDirectory, "tokenizer_config.json");
        var definition = TokenizerJsonReader.Read(jsonPath);
        var config = isDirectory && File.Exists(configPath) ? TokenizerConfig.Read(configPath) : null;
        try
        {
            return new ByteLevelBpeTokenizer(definition, config);
        }
        catch (TokenizerFileException e)
        {
            throw new TokenizerFileException($"{pathOrDirectory}: {e.Message}", e);
        }
    }

    public TokenizerDefinition Definition { get; }
    public TokenizerConfig Config { get; }
    public BpeModel Model { get; }

    /// <summary>Added tokens by content.</summary>
    public IReadOnlyDictionary<string, AddedToken> AddedTokens { get; }

    /// <summary>Highest id + 1 over the BPE vocabulary and the added tokens (128815 for DeepSeek-V3, = len(tokenizer) in transformers).</summary>
    public int VocabSize { get; }

    public int? BosId { get; }
    public int? EosId { get; }
    public int? PadId { get; }

    /// <summary>The fill-in-the-middle tokens, or null if this vocabulary has none.</summary>
    public FimTokens? Fim { get; }

    /// <summary>The id of a token string (a vocabulary entry or an added token's content), or null.</summary>
    public int? TokenToId(string token) =>
        AddedTokens.TryGetValue(token, out var added) ? added.Id : Model.Vocab.TryGetValue(token, out int id) ? id : null;

    /// <summary>The token string of an id, or null if the id is unused.</summary>
    public string? IdToToken(int id)
    {
        if (id < 0 || id >= VocabSize)
            return null;
        return _addedById.TryGetValue(id, out var added) ? added.Content : id < Model.IdToToken.Count ? Model.IdToToken[id] : null;
    }

    public bool IsSpecial(int id) => id >= 0 && id < VocabSize && _isSpecial[id];

    /// <summary>The bytes a token stands for when decoded, or null if the id is unused.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id) => id >= 0 && id < VocabSize ? _tokenBytes[id] : null;

    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        Utf16Validation.ThrowIfLoneSurrogate(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && Config.AddBosToken && BosId is int bos)
            ids.Add(bos);
        var pieces = new List<(int, int)>();
        int position = 0;
        while (_addedTokens.TryFindNext(text, position, out int start, out int length, out var token))
        {
            EncodeOrdinaryText(text.AsSpan(position, start - position), ids, pieces);
            ids.Add(token.Id);
            position = start + length;
        }
        EncodeOrdinaryText(text.AsSpan(position), ids, pieces);
        if (addSpecialTokens && Config.AddEosToken && EosId is int eos)
            ids.Add(eos);
        return ids.ToArray();
    }

    /// <summary>Encodes UTF-8 bytes; invalid UTF-8 raises <see cref="TokenizerInputException"/> with its byte offset.</summary>
    public int[] Encode(ReadOnlySpan<byte> utf8, bool addSpecialTokens = false) =>
        Encode(Utf16Validation.DecodeStrict(utf8), addSpecialTokens);

    /// <summary>Encodes many texts over all cores; result i belongs to texts[i].</summary>
    public IReadOnlyList<int[]> EncodeBatch(IReadOnlyList<string> texts, bool addSpecialTokens = false)
    {
        foreach (string text in texts)
            Utf16Validation.ThrowIfLoneSurrogate(text); // here, so the error is typed rather than an AggregateException
        var results = new int[texts.Count][];
        Parallel.For(0, texts.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            i => results[i] = Encode(texts[i], addSpecialTokens));
        return results;
    }

    /// <summary>
    /// The text of <paramref name="ids"/>, as HF decodes: token bytes concatenated and read as UTF-8, invalid sequences
    /// becoming U+FFFD; ids that are not in the vocabulary are skipped (HF does the same).
    /// </summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new ArrayBufferWriter<byte>(ids.Count * 4);
        foreach (int id in ids)
        {
            if (skipSpecialTokens && IsSpecial(id))
                continue;
            bytes.Write(TokenBytes(id));
        }
        return Encoding.UTF8.GetString(bytes.WrittenSpan);
    }

    /// <summary>A decoder for ids arriving one by one (generation) that only ever emits whole characters.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecialTokens = false) => new(this, skipSpecialTokens);

    private void EncodeOrdinaryText(ReadOnlySpan<char> text, List<int> ids, List<(int Start, int Length)> pieces)
    {
        if (text.IsEmpty)
            return;
        pieces.Clear();
        _preTokenizer.Split(text, pieces);
        var lookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var (start, length) in pieces)
        {
            var piece = text.Slice(start, length);
            if (length <= MaxCachedPieceLength && lookup.TryGetValue(piece, out int[]? cached))
            {
                ids.AddRange(cached);
                continue;
            }
            int first = ids.Count;
            EncodePiece(piece, ids);
            // ConcurrentDictionary.Count takes every lock, so the size is tracked separately.
            if (length <= MaxCachedPieceLength && Volatile.Read(ref _cacheEntries) < MaxCacheEntries
                && lookup.TryAdd(piece, ids.GetRange(first, ids.Count - first).ToArray()))
                Interlocked.Increment(ref _cacheEntries);
        }
    }

    private void EncodePiece(ReadOnlySpan<char> piece, List<int> ids)
    {
        int maxBytes = Encoding.UTF8.GetMaxByteCount(piece.Length);
        byte[] rented = ArrayPool<byte>.Shared.Rent(maxBytes);
        try
        {
            int n = Encoding.UTF8.GetBytes(piece, rented);
            Model.Encode(rented.AsSpan(0, n), ids);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // HF's ByteLevel decoder: a token made only of byte-level characters stands for those bytes; any other token
    // (e.g. "<｜User｜>") stands for its own UTF-8.
    private static byte[] TokenToBytes(string token) => ByteLevelAlphabet.TryDecode(token) ?? Encoding.UTF8.GetBytes(token);

    private int? IdOf(string? token, string field)
    {
        if (token is null)
            return null;
        return TokenToId(token) ?? throw new TokenizerFileException(
            $"tokenizer_config.json: {field} '{token}' is neither in the vocabulary nor an added token");
    }
}
