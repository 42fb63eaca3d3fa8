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
    public void Ten_MB_line_without_spaces_round_trips_and_its_merge_work_grows_as_n_log_n()
    {
        // One letter run is a single pre-tokenizer piece: the BPE merge loop must not be quadratic. Its work is
        // counted in steps (BpeModel's count of heap levels moved through), not timed, so a busy machine cannot fail
        // the test: a run ten times longer may cost at most 10 × log(10 n) / log(n) times the steps (n log n), with a
        // quarter to spare. A quadratic loop costs 100× and fails at the first step up, long before 10 MB.
        long previous = 0;
        for (int length = 1_000; length <= 1_000_000; length *= 10)
        {
            Tokenizer.Model.Encode(Encoding.UTF8.GetBytes(Letters(length)), [], out long steps);
            double allowed = 1.25 * 10 * Math.Log(length) / Math.Log(length / 10);
            Assert.True(previous == 0 || steps < allowed * previous,
                $"{length / 10:N0} letters: {previous:N0} steps; {length:N0} letters: {steps:N0} steps, more than {allowed:F1} times as many");
            previous = steps;
        }
        string large = Letters(10_000_000);
        Assert.Equal(large, Tokenizer.Decode(Tokenizer.Encode(large)));
    }

    private static string Letters(int count)
    {
        var random = new Random(7);
        var text = new StringBuilder(count);
        while (text.Length < count)
            text.Append((char)('a' + random.Next(26)));
        return text.ToString();
    }
}
