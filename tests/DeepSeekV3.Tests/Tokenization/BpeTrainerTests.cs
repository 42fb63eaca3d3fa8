using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

public class BpeTrainerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dsv3-train-").FullName;
    private static string ParityText => Path.Combine(TokenizerTestFiles.DataDirectory, "parity.txt");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ByteLevelBpeTokenizer Train(string name, int vocabSize) =>
        BpeTrainer.TrainFiles([ParityText], new BpeTrainerOptions(vocabSize), Path.Combine(_dir, name));

    [Fact]
    public void Trained_tokenizer_loads_in_HuggingFace_and_gives_identical_ids_on_the_parity_text()
    {
        var ours = Train("tok", 3000);
        string hfIds = Path.Combine(_dir, "hf.jsonl");
        CliProcess.Node("reference-ids.mjs", ParityText, hfIds, "--tokenizer", Path.Combine(_dir, "tok", "tokenizer.json"));
        var expected = TokenizerTestFiles.ReadIds(hfIds);
        var actual = ours.EncodeBatch(TokenizerTestFiles.Units(File.ReadAllText(ParityText), "line"));
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void Training_twice_writes_byte_identical_files()
    {
        Train("a", 1500);
        Train("b", 1500);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(_dir, "a", file)), File.ReadAllBytes(Path.Combine(_dir, "b", file)));
    }

    [Fact]
    public void Trained_vocabulary_has_the_requested_size_and_DeepSeek_V3_special_layout()
    {
        var tokenizer = Train("tok", 1000);
        Assert.Equal(1000, tokenizer.VocabSize);
        Assert.Equal((0, 1, 1), (tokenizer.BosId, tokenizer.EosId, tokenizer.PadId));
        Assert.Equal(new FimTokens(Begin: 986, Hole: 985, End: 987), tokenizer.Fim);
        Assert.Equal(new[] { 0, 986 }, tokenizer.Encode("<｜fim▁begin｜>", addSpecialTokens: true));
        string text = "mixed 文本 🍕 text\n";
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void Default_split_rules_are_exactly_those_of_the_real_DeepSeek_V3_tokenizer()
    {
        Assert.Equal(TokenizerTestFiles.DeepSeekV3.Definition.SplitRules, DeepSeekV3TokenizerLayout.SplitRules);
    }

    [Fact]
    public void Too_small_vocab_size_is_a_typed_error()
    {
        var e = Assert.Throws<DeepSeekV3Exception>(() => new BpeTrainer(new BpeTrainerOptions(100)));
        Assert.Contains("274", e.Message);
    }

    [Fact]
    public void Missing_or_non_UTF8_training_file_is_a_typed_error_naming_it()
    {
        string bad = Path.Combine(_dir, "bad.txt");
        File.WriteAllBytes(bad, [0x61, 0xC3]);
        var e = Assert.Throws<TokenizerFileException>(() => BpeTrainer.TrainFiles([bad], new BpeTrainerOptions(500), _dir));
        Assert.Contains("bad.txt: input is not valid UTF-8 at byte 1", e.Message);
        Assert.Throws<TokenizerFileException>(() => BpeTrainer.TrainFiles([Path.Combine(_dir, "none.txt")], new BpeTrainerOptions(500), _dir));
    }

    [Fact]
    public void Dsv3_train_tokenizer_writes_a_loadable_tokenizer_directory()
    {
        string output = Path.Combine(_dir, "cli");
        var run = CliProcess.Dsv3("train-tokenizer", "--input", ParityText, "--vocab-size", "600", "--out", output);
        Assert.True(run.ExitCode == 0, run.Stderr);
        var tokenizer = ByteLevelBpeTokenizer.Load(output);
        Assert.Equal(600, tokenizer.VocabSize);
        Assert.Equal(ChatTemplate.Jinja, tokenizer.Config.ChatTemplate);
        Assert.True(tokenizer.Config.AddBosToken);
    }
}
