using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Tests.Tokenization;

public class TokenizerFileErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dsv3-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        var e = Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.Load(Path.Combine(_dir, "nope.json")));
        Assert.Contains("nope.json", e.Message);
    }

    [Fact]
    public void Directory_without_tokenizer_json_is_a_typed_error()
    {
        Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.Load(_dir));
    }

    [Theory]
    [InlineData("not json at all", "not valid JSON")]
    [InlineData("{\"version\": \"1.0\"}", "no 'model'")]
    [InlineData("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"use_regex\": true}}", "only BPE")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Metaspace\"}}", "Metaspace")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", "no ByteLevel")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "merges[0]")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}, {\"type\": \"ByteLevel\"}]}}", "not a valid .NET regex")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"normalizer\": {\"type\": \"NFKC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", "normalizer 'NFKC'")]
    [InlineData("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [{\"id\": 5, \"content\": \"<a>\"}, {\"id\": 5, \"content\": \"<b>\"}]}", "repeated id")]
    public void Malformed_or_unsupported_tokenizer_json_is_a_typed_error_naming_the_problem(string json, string expected)
    {
        string path = Write("tokenizer.json", json);
        var e = Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.Load(path));
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Config_naming_an_unknown_BOS_token_is_a_typed_error()
    {
        Write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}, \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}");
        Write("tokenizer_config.json", "{\"add_bos_token\": true, \"bos_token\": \"<s>\"}");
        var e = Assert.Throws<TokenizerFileException>(() => ByteLevelBpeTokenizer.Load(_dir));
        Assert.Contains("bos_token '<s>'", e.Message);
    }
}
