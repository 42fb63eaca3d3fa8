using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

/// <summary>BOS/EOS/PAD, FIM ids and special-token handling of the real DeepSeek-V3 tokenizer (values from its files).</summary>
public class SpecialTokenTests
{
    private static ByteLevelBpeTokenizer Tokenizer => TokenizerTestFiles.DeepSeekV3;

    [Fact]
    public void Ids_of_BOS_EOS_PAD_and_vocab_size_match_tokenizer_config()
    {
        Assert.Equal(0, Tokenizer.BosId);
        Assert.Equal(1, Tokenizer.EosId);
        Assert.Equal(1, Tokenizer.PadId); // pad_token is <｜end▁of▁sentence｜> in tokenizer_config.json
        Assert.Equal(128815, Tokenizer.VocabSize);
    }

    [Fact]
    public void Add_special_tokens_prepends_BOS_as_transformers_does_because_add_bos_token_is_true()
    {
        Assert.Equal(new[] { 0, 19923 }, Tokenizer.Encode("Hello", addSpecialTokens: true));
        Assert.Equal(new[] { 19923 }, Tokenizer.Encode("Hello"));
    }

    [Fact]
    public void Bare_tokenizer_json_adds_no_BOS_like_HF_tokenizers()
    {
        var bare = ByteLevelBpeTokenizer.Load(Path.Combine(TokenizerTestFiles.DeepSeekV3Directory, "tokenizer.json"));
        Assert.Equal(new[] { 19923 }, bare.Encode("Hello", addSpecialTokens: true));
    }

    [Fact]
    public void FIM_tokens_have_the_DeepSeek_V3_ids()
    {
        Assert.Equal(new FimTokens(Begin: 128801, Hole: 128800, End: 128802), Tokenizer.Fim);
    }

    [Fact]
    public void Skip_special_tokens_drops_special_ones_and_keeps_added_non_special_ones()
    {
        int[] ids = Tokenizer.Encode("<｜begin▁of▁sentence｜><｜User｜>hi<｜end▁of▁sentence｜>");
        Assert.Equal(new[] { 0, 128803, 6366, 1 }, ids);
        Assert.Equal("<｜User｜>hi", Tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Equal("<｜begin▁of▁sentence｜><｜User｜>hi<｜end▁of▁sentence｜>", Tokenizer.Decode(ids));
    }

    [Fact]
    public void Batch_encoding_equals_one_by_one_encoding()
    {
        var texts = Enumerable.Range(0, 200).Select(i => $"line {i}: 你好 {new string('x', i % 17)} 🍕\n").ToList();
        var batch = Tokenizer.EncodeBatch(texts, addSpecialTokens: true);
        for (int i = 0; i < texts.Count; i++)
            Assert.Equal(Tokenizer.Encode(texts[i], addSpecialTokens: true), batch[i]);
    }
}
