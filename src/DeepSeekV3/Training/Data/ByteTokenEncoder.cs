using System.Text;

namespace DeepSeekV3.Training.Data;

/// <summary>
/// The simplest <see cref="ITokenEncoder"/>: one token per UTF-8 byte (ids 0-255), then EOS 256 and the FIM tokens
/// 257-259. Lets the pipeline and the trainer run before a trained BPE tokenizer is available; any model with a
/// vocabulary of at least 260 can train on it.
/// </summary>
public sealed class ByteTokenEncoder : ITokenEncoder
{
    public string Name => "bytes";
    public int VocabSize => 260;
    public int EosId => 256;
    public int FimBeginId => 257;
    public int FimHoleId => 258;
    public int FimEndId => 259;

    public int[] Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ids = new int[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
            ids[i] = bytes[i];
        return ids;
    }
}
