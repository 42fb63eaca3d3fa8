using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using DeepSeekV3.IO;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// Documents tokenized once into memory-mapped shards: <c>tokens-NNNNN.u32</c> (uint32 little-endian ids, documents
/// back to back) and <c>docs-NNNNN.i64</c> (each document's end offset in its shard), listed by <c>index.json</c>.
/// The cache folder is named by a fingerprint of the encoder and of every input file (path, size, modification
/// time), so a re-run on unchanged inputs reuses the shards; the folder is built under a temporary name and renamed
/// when complete, so an interrupted build is never mistaken for a finished one.
/// </summary>
public sealed class TokenShardSet : IDocumentCollection, IDisposable
{
    public const string IndexFile = "index.json";
    private const long MaxShardTokens = 1L << 26;

    private readonly List<Shard> _shards = [];
    private readonly long[] _firstDocument;                                               // per shard

    private TokenShardSet(string directory, ShardIndex index)
    {
        Directory = directory;
        foreach (var entry in index.Shards)
            _shards.Add(Shard.Open(directory, entry));
        _firstDocument = new long[_shards.Count];
        long documents = 0;
        for (int i = 0; i < _shards.Count; i++)
        {
            _firstDocument[i] = documents;
            documents += _shards[i].Ends.Length;
        }
        Count = documents;
        TotalTokens = index.TotalTokens;
    }

    public string Directory { get; }
    public long Count { get; }
    public long TotalTokens { get; }

    /// <summary>Opens the cached shards of <paramref name="inputs"/> under <paramref name="cacheRoot"/>, tokenizing
    /// first when there are none. <paramref name="reused"/> tells which happened.</summary>
    public static TokenShardSet Open(IEnumerable<string> inputs, ITokenEncoder encoder, string cacheRoot,
        IProgress<TokenizationProgress>? progress, out bool reused)
    {
        var files = DocumentSource.Files(inputs);
        string directory = Path.Combine(cacheRoot, Fingerprint(files, encoder));
        string indexPath = Path.Combine(directory, IndexFile);
        reused = File.Exists(indexPath);
        if (!reused)
            Build(files, encoder, directory, progress);
        var index = JsonSerializer.Deserialize<ShardIndex>(File.ReadAllText(indexPath))
                    ?? throw new DeepSeekV3Exception($"{indexPath}: empty token shard index");
        return new TokenShardSet(directory, index);
    }

    public ReadOnlySpan<int> Document(long index)
    {
        if (index < 0 || index >= Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"document index not in [0, {Count})");
        int shard = Array.BinarySearch(_firstDocument, index);
        if (shard < 0) shard = ~shard - 1;
        return _shards[shard].Document(index - _firstDocument[shard]);
    }

    private static string Fingerprint(IReadOnlyList<string> files, ITokenEncoder encoder)
    {
        var text = new StringBuilder($"{encoder.Name}|{encoder.VocabSize}|{encoder.EosId}\n");
        foreach (string file in files)
        {
            var info = new FileInfo(file);
            text.Append($"{file}|{info.Length}|{info.LastWriteTimeUtc.Ticks}\n");
        }
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())))[..16].ToLowerInvariant();
    }

    private static void Build(IReadOnlyList<string> files, ITokenEncoder encoder, string directory,
        IProgress<TokenizationProgress>? progress)
    {
        string temp = $"{directory}.tmp-{Guid.NewGuid():N}";
        System.IO.Directory.CreateDirectory(temp);
        try
        {
            var index = new ShardIndex { Encoder = encoder.Name, VocabSize = encoder.VocabSize, Sources = files.ToList() };
            long bytesTotal = files.Sum(f => new FileInfo(f).Length), bytesDone = 0, tokens = 0;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var lastReport = TimeSpan.Zero;
            var writer = new ShardWriter(temp, 0);
            foreach (string file in files)
            {
                long fileBytes = 0;
                foreach (var (text, bytesRead) in DocumentSource.Documents(file))
                {
                    var ids = encoder.Encode(text);
                    if (ids.Length == 0) continue;
                    if (writer.Tokens > 0 && writer.Tokens + ids.Length > MaxShardTokens)
                    {
                        index.Shards.Add(writer.Finish());
                        writer = new ShardWriter(temp, index.Shards.Count);
                    }
                    writer.Add(ids);
                    tokens += ids.Length;
                    fileBytes = bytesRead;
                    if (progress is not null && clock.Elapsed - lastReport > TimeSpan.FromMilliseconds(500))
                    {
                        lastReport = clock.Elapsed;
                        progress.Report(new(bytesDone + fileBytes, bytesTotal, tokens, clock.Elapsed));
                    }
                }
                bytesDone += new FileInfo(file).Length;
            }
            if (tokens == 0)
                throw new InvalidArgumentException(
                    $"--data: no text in {string.Join(", ", files.Take(5))}{(files.Count > 5 ? $" and {files.Count - 5} more" : "")} " +
                    "(empty files, or .jsonl lines with an empty \"text\")");
            index.Shards.Add(writer.Finish());
            index.TotalTokens = tokens;
            progress?.Report(new(bytesDone, bytesTotal, tokens, clock.Elapsed));
            AtomicFile.WriteAllText(Path.Combine(temp, IndexFile), JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
            if (System.IO.Directory.Exists(directory))
                System.IO.Directory.Delete(directory, recursive: true);                    // an index-less leftover
            System.IO.Directory.Move(temp, directory);
        }
        catch
        {
            System.IO.Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var shard in _shards)
            shard.Dispose();
    }

    private sealed class ShardWriter(string directory, int number)
    {
        private readonly FileStream _tokens = File.Create(Path.Combine(directory, TokensName(number)));
        private readonly List<long> _ends = [];
        private readonly byte[] _chunk = new byte[1 << 18];                               // a large document goes out in pieces

        public long Tokens { get; private set; }

        public void Add(int[] ids)
        {
            for (int start = 0; start < ids.Length; start += _chunk.Length / 4)
            {
                int count = Math.Min(_chunk.Length / 4, ids.Length - start);
                for (int i = 0; i < count; i++)
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(_chunk.AsSpan(i * 4), (uint)ids[start + i]);
                _tokens.Write(_chunk, 0, count * 4);
            }
            Tokens += ids.Length;
            _ends.Add(Tokens);
        }

        public ShardEntry Finish()
        {
            _tokens.Flush(flushToDisk: true);
            _tokens.Dispose();
            using (var docs = File.Create(Path.Combine(directory, DocsName(number))))
            {
                var bytes = new byte[_ends.Count * 8];
                for (int i = 0; i < _ends.Count; i++)
                    System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), _ends[i]);
                docs.Write(bytes);
                docs.Flush(flushToDisk: true);
            }
            return new ShardEntry { TokensFile = TokensName(number), DocsFile = DocsName(number), Tokens = Tokens, Documents = _ends.Count };
        }
    }

    private static string TokensName(int n) => $"tokens-{n:D5}.u32";
    private static string DocsName(int n) => $"docs-{n:D5}.i64";

    private sealed unsafe class Shard : IDisposable
    {
        private readonly MemoryMappedFile? _file;
        private readonly MemoryMappedViewAccessor? _view;
        private readonly int* _tokens;

        private Shard(MemoryMappedFile? file, MemoryMappedViewAccessor? view, long[] ends)
        {
            _file = file;
            _view = view;
            Ends = ends;
            if (view is not null)
            {
                byte* pointer = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
                _tokens = (int*)(pointer + view.PointerOffset);
            }
        }

        public long[] Ends { get; }

        public static Shard Open(string directory, ShardEntry entry)
        {
            var endBytes = File.ReadAllBytes(Path.Combine(directory, entry.DocsFile));
            var ends = new long[endBytes.Length / 8];
            for (int i = 0; i < ends.Length; i++)
                ends[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(endBytes.AsSpan(i * 8));
            if (ends.Length != entry.Documents || (ends.Length > 0 && ends[^1] != entry.Tokens))
                throw new DeepSeekV3Exception($"{Path.Combine(directory, entry.DocsFile)}: expected {entry.Documents} documents " +
                                              $"ending at token {entry.Tokens}, found {ends.Length}");
            if (entry.Tokens == 0)
                return new Shard(null, null, ends);
            var file = MemoryMappedFile.CreateFromFile(Path.Combine(directory, entry.TokensFile), FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            var view = file.CreateViewAccessor(0, entry.Tokens * 4, MemoryMappedFileAccess.Read);
            return new Shard(file, view, ends);
        }

        // Token ids are stored as uint32 little-endian; every id is below 2^31, so reading them as int is exact.
        public ReadOnlySpan<int> Document(long index)
        {
            long start = index == 0 ? 0 : Ends[index - 1];
            return new ReadOnlySpan<int>(_tokens + start, (int)(Ends[index] - start));
        }

        public void Dispose()
        {
            if (_view is not null)
            {
                _view.SafeMemoryMappedViewHandle.ReleasePointer();
                _view.Dispose();
            }
            _file?.Dispose();
        }
    }
}
