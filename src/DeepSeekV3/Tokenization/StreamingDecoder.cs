using System.Buffers;
using System.Text;

namespace DeepSeekV3.Tokenization;

/// <summary>
/// Decodes ids one at a time, as a generator produces them. Byte-level tokens often end inside a UTF-8 character
/// (a Chinese character or an emoji spans 2–4 tokens); such trailing bytes are held back until the character is
/// complete, so every returned string is whole characters. The concatenation of all <see cref="Push"/> results and
/// <see cref="Flush"/> equals <see cref="ByteLevelBpeTokenizer.Decode"/> of all ids.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly ByteLevelBpeTokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly ArrayBufferWriter<byte> _pending = new();

    internal StreamingDecoder(ByteLevelBpeTokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Adds one id; returns the text that is now complete (possibly empty).</summary>
    public string Push(int id)
    {
        if (_skipSpecialTokens && _tokenizer.IsSpecial(id))
            return "";
        _pending.Write(_tokenizer.TokenBytes(id));
        var bytes = _pending.WrittenSpan;
        int complete = bytes.Length - IncompleteTailLength(bytes);
        if (complete == 0)
            return "";
        string text = Encoding.UTF8.GetString(bytes[..complete]);
        byte[] rest = bytes[complete..].ToArray();
        _pending.Clear();
        _pending.Write(rest);
        return text;
    }

    /// <summary>Ends the stream: whatever is held back is returned, an unfinished character as U+FFFD.</summary>
    public string Flush()
    {
        string text = Encoding.UTF8.GetString(_pending.WrittenSpan);
        _pending.Clear();
        return text;
    }

    // Length of a trailing sequence that is a valid but unfinished UTF-8 character (0–3 bytes).
    private static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        for (int back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            byte b = bytes[^back];
            if ((b & 0xC0) == 0x80)
                continue; // continuation byte: keep looking for the lead byte
            var tail = bytes[^back..];
            return Rune.DecodeFromUtf8(tail, out _, out _) == OperationStatus.NeedMoreData ? back : 0;
        }
        return 0;
    }
}
