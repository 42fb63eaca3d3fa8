using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace DeepSeekV3.Tokenization;

/// <summary>Input checks shared by encoding paths: tokenizers take well-formed Unicode only.</summary>
internal static class Utf16Validation
{
    public static void ThrowIfLoneSurrogate(ReadOnlySpan<char> text)
    {
        int i = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        while (i >= 0 && i < text.Length)
        {
            if (!char.IsHighSurrogate(text[i]) || i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1]))
                throw new TokenizerInputException($"text has a lone UTF-16 surrogate U+{(int)text[i]:X4} at char {i}");
            int next = text[(i + 2)..].IndexOfAnyInRange('\uD800', '\uDFFF');
            i = next < 0 ? -1 : i + 2 + next;
        }
    }

    public static string DecodeStrict(ReadOnlySpan<byte> utf8)
    {
        var chars = new char[utf8.Length];
        var status = Utf8.ToUtf16(utf8, chars, out int read, out int written, replaceInvalidSequences: false);
        if (status != OperationStatus.Done)
            throw new TokenizerInputException($"input is not valid UTF-8 at byte {read}");
        return new string(chars, 0, written);
    }
}
