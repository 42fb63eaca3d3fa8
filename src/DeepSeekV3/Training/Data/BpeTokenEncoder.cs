using System.Security.Cryptography;
using System.Text;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// The data pipeline's view of a byte-level BPE tokenizer (DeepSeek-V3's, or one made by `dsv3 train-tokenizer`):
/// plain text → ids without BOS (documents are packed with EOS between them), plus the EOS and FIM token ids.
/// Its name carries a hash of the vocabulary so that cached token shards are never reused across tokenizers.
/// </summary>
public sealed class BpeTokenEncoder : ITokenEncoder
{
    private readonly ByteLevelBpeTokenizer _tokenizer;

    public BpeTokenEncoder(ByteLevelBpeTokenizer tokenizer, string source)
    {
        _tokenizer = tokenizer;
        EosId = tokenizer.EosId ?? throw new InvalidArgumentException($"{source}: the tokenizer has no EOS token");
        var fim = tokenizer.Fim ?? throw new InvalidArgumentException(
            $"{source}: the tokenizer lacks the FIM tokens {FimTokens.BeginToken}, {FimTokens.HoleToken}, {FimTokens.EndToken}");
        (FimBeginId, FimHoleId, FimEndId) = (fim.Begin, fim.Hole, fim.End);
        var vocabulary = string.Join("\n", Enumerable.Range(0, tokenizer.VocabSize).Select(i => tokenizer.IdToToken(i) ?? ""));
        string hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(vocabulary)))[..16].ToLowerInvariant();
        Name = $"bpe-{hash}";
    }

    public static BpeTokenEncoder Load(string pathOrDirectory) => new(ByteLevelBpeTokenizer.Load(pathOrDirectory), pathOrDirectory);

    public string Name { get; }
    public int VocabSize => _tokenizer.VocabSize;
    public int EosId { get; }
    public int FimBeginId { get; }
    public int FimHoleId { get; }
    public int FimEndId { get; }

    public int[] Encode(string text) => _tokenizer.Encode(text, addSpecialTokens: false);
}
