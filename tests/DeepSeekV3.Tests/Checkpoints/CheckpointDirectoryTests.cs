using System.Text.Json;
using DeepSeekV3.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints;

public class CheckpointDirectoryTests
{
    // Five F32 tensors of 16, 16, 16, 40 and 8 bytes.
    private static List<(string Name, Tensor Tensor)> FiveTensors() => new()
    {
        ("model.embed_tokens.weight", arange(4, dtype: ScalarType.Float32)),
        ("model.layers.0.input_layernorm.weight", ones(4)),
        ("model.layers.0.self_attn.q_a_proj.weight", full(4, 2f)),
        ("model.norm.weight", arange(10, dtype: ScalarType.Float32)),
        ("lm_head.weight", full(2, -1f)),
    };

    [Fact]
    public void Everything_that_fits_goes_into_a_single_model_safetensors()
    {
        using var dir = new TempDirectory();
        var tensors = FiveTensors();
        CheckpointWriter.Write(dir.Path, tensors, metadata: new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Equal(new[] { "model.safetensors" }, Directory.EnumerateFiles(dir.Path).Select(Path.GetFileName));

        using var reader = CheckpointReader.Open(dir.Path);
        Assert.Equal(tensors.Select(t => t.Name), reader.TensorNames);
        Assert.Equal("pt", reader.Metadata["format"]);
        AssertReadsBack(reader, tensors);
        tensors.ForEach(t => t.Tensor.Dispose());
    }

    [Fact]
    public void Small_shard_limit_splits_in_order_and_writes_the_index()
    {
        using var dir = new TempDirectory();
        var tensors = FiveTensors();
        // 32 bytes per shard: {16, 16} | {16} (40 won't fit after it) | {40} alone (oversized) | {8}.
        CheckpointWriter.Write(dir.Path, tensors, maxShardBytes: 32);

        var files = Directory.EnumerateFiles(dir.Path).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(new[]
        {
            "model-00001-of-00004.safetensors", "model-00002-of-00004.safetensors", "model-00003-of-00004.safetensors",
            "model-00004-of-00004.safetensors", "model.safetensors.index.json",
        }, files);

        using var index = JsonDocument.Parse(File.ReadAllBytes(dir.File("model.safetensors.index.json")));
        Assert.Equal(96, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal("model-00001-of-00004.safetensors", weightMap["model.embed_tokens.weight"]);
        Assert.Equal("model-00001-of-00004.safetensors", weightMap["model.layers.0.input_layernorm.weight"]);
        Assert.Equal("model-00002-of-00004.safetensors", weightMap["model.layers.0.self_attn.q_a_proj.weight"]);
        Assert.Equal("model-00003-of-00004.safetensors", weightMap["model.norm.weight"]);
        Assert.Equal("model-00004-of-00004.safetensors", weightMap["lm_head.weight"]);

        using var reader = CheckpointReader.Open(dir.Path);
        Assert.Equal(tensors.Select(t => t.Name), reader.TensorNames);
        Assert.Equal("model-00003-of-00004.safetensors", reader.FileOf("model.norm.weight"));
        Assert.Equal("96", reader.Metadata["total_size"]);
        Assert.True(reader.Contains("lm_head.weight"));
        Assert.False(reader.Contains("lm_head.bias"));
        Assert.Equal(new long[] { 10 }, reader.Info("model.norm.weight").Shape);
        Assert.Throws<TensorNotFoundException>(() => reader.Read("lm_head.bias"));
        AssertReadsBack(reader, tensors);
        tensors.ForEach(t => t.Tensor.Dispose());
    }

    [Fact]
    public void Rewriting_removes_stale_files_of_the_previous_layout()
    {
        using var dir = new TempDirectory();
        var tensors = FiveTensors();
        File.WriteAllText(dir.File("config.json"), "{}");
        CheckpointWriter.Write(dir.Path, tensors, maxShardBytes: 32);
        CheckpointWriter.Write(dir.Path, tensors, maxShardBytes: 48); // {16, 16, 16} | {40, 8}
        Assert.Equal(new[]
        {
            "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
            "model.safetensors.index.json",
        }, Directory.EnumerateFiles(dir.Path).Select(Path.GetFileName).Order());
        CheckpointWriter.Write(dir.Path, tensors);
        Assert.Equal(new[] { "config.json", "model.safetensors" }, Directory.EnumerateFiles(dir.Path).Select(Path.GetFileName).Order());
        tensors.ForEach(t => t.Tensor.Dispose());
    }

    [Fact]
    public void Missing_shard_file_is_rejected()
    {
        using var dir = WriteSharded();
        File.Delete(dir.File("model-00002-of-00004.safetensors"));
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Open(dir.Path));
        Assert.Contains("model-00002-of-00004.safetensors", ex.Message);
        Assert.Equal("model.layers.0.self_attn.q_a_proj.weight", ex.TensorName);
    }

    [Fact]
    public void Tensor_in_index_but_absent_from_its_shard_is_rejected()
    {
        using var dir = WriteSharded();
        EditIndex(dir, map => map["model.extra.weight"] = "model-00004-of-00004.safetensors");
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Open(dir.Path));
        Assert.Equal("model.extra.weight", ex.TensorName);
        Assert.Contains("model-00004-of-00004.safetensors", ex.Message);
        Assert.Contains("absent", ex.Message);
    }

    [Fact]
    public void Tensor_in_a_shard_but_missing_from_the_index_is_rejected()
    {
        using var dir = WriteSharded();
        EditIndex(dir, map => map.Remove("model.layers.0.input_layernorm.weight"));
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Open(dir.Path));
        Assert.Equal("model.layers.0.input_layernorm.weight", ex.TensorName);
        Assert.Contains("model-00001-of-00004.safetensors", ex.Message);
        Assert.Contains("maps it to nothing", ex.Message);
    }

    [Fact]
    public void Shard_file_the_index_never_mentions_is_rejected()
    {
        using var dir = WriteSharded();
        EditIndex(dir, map => map.Remove("lm_head.weight"));
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Open(dir.Path));
        Assert.Equal("lm_head.weight", ex.TensorName);
        Assert.Contains("model-00004-of-00004.safetensors", ex.Message);
    }

    [Fact]
    public void Directory_without_checkpoint_files_is_rejected()
    {
        using var dir = new TempDirectory();
        var ex = Assert.Throws<CheckpointFormatException>(() => CheckpointReader.Open(dir.Path));
        Assert.Contains("found neither", ex.Message);
    }

    [Fact]
    public void Duplicate_names_are_rejected_before_any_file_is_written()
    {
        using var dir = new TempDirectory();
        using var t = ones(2);
        Assert.Throws<CheckpointFormatException>(() => CheckpointWriter.Write(dir.Path, new[] { ("a", t), ("a", t) }, maxShardBytes: 4));
        Assert.Empty(Directory.EnumerateFiles(dir.Path));
    }

    private static TempDirectory WriteSharded()
    {
        var dir = new TempDirectory();
        var tensors = FiveTensors();
        CheckpointWriter.Write(dir.Path, tensors, maxShardBytes: 32);
        tensors.ForEach(t => t.Tensor.Dispose());
        return dir;
    }

    private static void EditIndex(TempDirectory dir, Action<Dictionary<string, string>> edit)
    {
        string path = dir.File("model.safetensors.index.json");
        using var index = JsonDocument.Parse(File.ReadAllBytes(path));
        var map = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        edit(map);
        File.WriteAllText(path, JsonSerializer.Serialize(new { metadata = new { total_size = 96 }, weight_map = map }));
    }

    private static void AssertReadsBack(CheckpointReader reader, List<(string Name, Tensor Tensor)> expected)
    {
        foreach (var (name, tensor) in expected)
        {
            using var read = reader.Read(name);
            Assert.Equal(tensor.data<float>().ToArray(), read.data<float>().ToArray());
        }
    }
}
