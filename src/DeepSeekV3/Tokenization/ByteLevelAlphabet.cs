namespace DeepSeekV3.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet, used by HF's ByteLevel pre-tokenizer and decoder: every byte 0..255 is shown as one
/// printable character so that BPE tokens are plain strings. Printable Latin-1 bytes map to themselves; the other 68
/// bytes (controls, space, NBSP, soft hyphen) map to U+0100.. in byte order, which is why a space reads as "Ġ" (U+0120).
/// </summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly Dictionary<char, byte> CharToByte = BuildCharToByte();

    /// <summary>The character that stands for <paramref name="b"/> in tokenizer.json vocab and merges.</summary>
    public static char Encode(byte b) => ByteToChar[b];

    /// <summary>The byte a byte-level character stands for, or false if <paramref name="c"/> is not in the alphabet.</summary>
    public static bool TryDecode(char c, out byte b) => CharToByte.TryGetValue(c, out b);

    /// <summary>The byte-level string of UTF-8 bytes, e.g. " hi" becomes "Ġhi".</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (dest, src) =>
        {
            for (int i = 0; i < src.Length; i++)
                dest[i] = ByteToChar[src[i]];
        });
    }

    /// <summary>The bytes of a byte-level string, or null if one of its characters is not in the alphabet.</summary>
    public static byte[]? TryDecode(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            if (!CharToByte.TryGetValue(token[i], out bytes[i]))
                return null;
        }
        return bytes;
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    private static Dictionary<char, byte> BuildCharToByte()
    {
        var map = new Dictionary<char, byte>(256);
        for (int b = 0; b < 256; b++)
            map[ByteToChar[b]] = (byte)b;
        return map;
    }
}
