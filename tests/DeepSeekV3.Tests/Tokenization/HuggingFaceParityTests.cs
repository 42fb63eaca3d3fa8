using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

/// <summary>
/// Our ids equal HF tokenizers' (Rust, via node: tools/tokenizer-reference/reference-ids.mjs) on the committed parity
/// text: English, Chinese, Japanese, Korean, code, numbers, emoji/ZWJ, astral characters, whitespace runs and literal
/// special tokens (Data/parity.txt, from make-test-text.mjs).
/// </summary>
public class HuggingFaceParityTests
{
    private static string Text => File.ReadAllText(Path.Combine(TokenizerTestFiles.DataDirectory, "parity.txt"));

    [Theory]
    [InlineData("line")]
    [InlineData("para")]
    public void Encode_equals_HuggingFace_ids_on_every_unit_of_the_parity_text(string unit)
    {
        var units = TokenizerTestFiles.Units(Text, unit);
        var expected = TokenizerTestFiles.ReadIds(Path.Combine(TokenizerTestFiles.DataDirectory, $"parity.{unit}.ids.jsonl"));
        Assert.Equal(expected.Count, units.Count);
        var actual = TokenizerTestFiles.DeepSeekV3.EncodeBatch(units);
        var mismatches = Enumerable.Range(0, units.Count).Where(i => !expected[i].SequenceEqual(actual[i])).ToList();
        Assert.True(mismatches.Count == 0, mismatches.Count == 0 ? "" :
            $"{mismatches.Count}/{units.Count} units differ; first #{mismatches[0]}: {System.Text.Json.JsonSerializer.Serialize(units[mismatches[0]])}\n" +
            $"expected {string.Join(' ', expected[mismatches[0]])}\nactual   {string.Join(' ', actual[mismatches[0]])}");
    }

    [Fact]
    public void Decode_of_encode_gives_the_whole_parity_text_back()
    {
        var tokenizer = TokenizerTestFiles.DeepSeekV3;
        string text = Text;
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void Documented_example_gives_the_HuggingFace_ids()
    {
        // From the research notes (HF tokenizers 0.22.2): "(x" is one piece, digits go in groups of three from the left.
        int[] ids = TokenizerTestFiles.DeepSeekV3.Encode("Hello, world! 你好，世界。 12345 def foo(x): return x**2\n\n<｜User｜>hi<｜Assistant｜>");
        Assert.Equal(new[] { 19923, 14, 2058, 3, 223, 30594, 303, 3427, 320, 223, 6895, 1883, 1351, 52735, 4042, 2605, 1354,
            1527, 666, 20, 271, 128803, 6366, 128804 }, ids);
    }

    [Theory]
    [InlineData(new[] { 64, 7351, 238 }, false, "^ \uFFFD")] // emoji cut after its second byte
    [InlineData(new[] { 238, 246, 65 }, false, "\uFFFD\uFFFD_")] // lone continuation bytes: one U+FFFD each
    [InlineData(new[] { 64, 238, 7351, 65 }, false, "^\uFFFD \uFFFD_")]
    [InlineData(new[] { 0, 128803, 6366, 1, 128805 }, false, "<｜begin▁of▁sentence｜><｜User｜>hi<｜end▁of▁sentence｜><|EOT|>")]
    [InlineData(new[] { 0, 128803, 6366, 1, 128805 }, true, "<｜User｜>hi")] // <|EOT|> is special, <｜User｜> is not
    [InlineData(new[] { 12, 128900, 13 }, false, "*+")] // unused id: skipped
    public void Decode_equals_HuggingFace_on_broken_UTF8_special_and_unused_ids(int[] ids, bool skipSpecial, string expected)
    {
        // Expected strings from HF tokenizers 0.22.2 (node binding): tok.decode(ids, skipSpecial).
        Assert.Equal(expected, TokenizerTestFiles.DeepSeekV3.Decode(ids, skipSpecial));
    }
}
