using System.Diagnostics;
using System.Text;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

/// <summary>Bad input and pathological input: typed errors or correct output, never hangs.</summary>
public class TokenizerInputErrorTests
{
    private static ByteLevelBpeTokenizer Tokenizer => TokenizerTestFiles.DeepSeekV3;

    [Fact]
    public void Invalid_UTF8_bytes_raise_a_typed_error_with_the_byte_offset()
    {
        byte[] bytes = [.. "abc"u8, 0xE4, 0xB8, (byte)'x'];
        var e = Assert.Throws<TokenizerInputException>(() => Tokenizer.Encode(bytes));
        Assert.Contains("byte 3", e.Message);
    }

    [Fact]
    public void Lone_surrogate_in_a_string_raises_a_typed_error()
    {
        var e = Assert.Throws<TokenizerInputException>(() => Tokenizer.Encode("ok \uD83D end"));
        Assert.Contains("U+D83D", e.Message);
        Assert.Throws<TokenizerInputException>(() => Tokenizer.EncodeBatch(["fine", "bad \uDC00"]));
    }

    [Fact]
    public void Ten_MB_line_without_spaces_encodes_in_linear_time_and_round_trips()
    {
        // One letter run is a single pre-tokenizer piece: the BPE merge loop must not be quadratic. Timing is compared
        // with a 1 MB run (linear: ~10x, quadratic: ~100x) so that a busy machine does not fail the test.
        string small = Letters(1_000_000), large = Letters(10_000_000);
        var (smallTime, _) = TimeEncode(small);
        var (largeTime, ids) = TimeEncode(large);
        Assert.Equal(large, Tokenizer.Decode(ids));
        Assert.True(largeTime < smallTime * 30, $"1 MB: {smallTime}, 10 MB: {largeTime}: worse than linear");
        Assert.True(largeTime < TimeSpan.FromSeconds(120), $"10 MB took {largeTime}");
    }

    private static string Letters(int count)
    {
        var random = new Random(7);
        var text = new StringBuilder(count);
        while (text.Length < count)
            text.Append((char)('a' + random.Next(26)));
        return text.ToString();
    }

    private static (TimeSpan, int[]) TimeEncode(string text)
    {
        var watch = Stopwatch.StartNew();
        int[] ids = Tokenizer.Encode(text);
        return (watch.Elapsed, ids);
    }
}
