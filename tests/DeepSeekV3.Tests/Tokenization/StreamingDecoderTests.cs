using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

public class StreamingDecoderTests
{
    [Fact]
    public void Streamed_pieces_are_whole_characters_and_concatenate_to_Decode()
    {
        var tokenizer = TokenizerTestFiles.DeepSeekV3;
        string text = "Emoji 👨‍👩‍👧‍👦 𠀀𪚥 中文字符 한국어 ① <｜User｜>ok";
        int[] ids = tokenizer.Encode(text);
        var decoder = tokenizer.CreateStreamingDecoder();
        var pieces = ids.Select(decoder.Push).Append(decoder.Flush()).ToList();
        Assert.Equal(text, string.Concat(pieces));
        Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
        Assert.All(pieces, p => Assert.False(p.Length > 0 && char.IsHighSurrogate(p[^1]), "a piece ends inside a surrogate pair"));
        Assert.True(ids.Length > pieces.Count(p => p.Length > 0), "some tokens should end inside a character and emit nothing");
    }

    [Fact]
    public void Unfinished_character_at_the_end_is_flushed_as_a_replacement_character()
    {
        var tokenizer = TokenizerTestFiles.DeepSeekV3;
        int[] ids = tokenizer.Encode("a🍕");
        var decoder = tokenizer.CreateStreamingDecoder();
        string emitted = string.Concat(ids[..^1].Select(decoder.Push)) + decoder.Flush();
        Assert.Equal(tokenizer.Decode(ids[..^1]), emitted);
        Assert.EndsWith("\uFFFD", emitted);
    }

    [Fact]
    public void Skip_special_tokens_applies_to_the_stream()
    {
        var tokenizer = TokenizerTestFiles.DeepSeekV3;
        var decoder = tokenizer.CreateStreamingDecoder(skipSpecialTokens: true);
        string emitted = string.Concat(tokenizer.Encode("<｜begin▁of▁sentence｜>hi<｜end▁of▁sentence｜>").Select(decoder.Push)) + decoder.Flush();
        Assert.Equal("hi", emitted);
    }
}
