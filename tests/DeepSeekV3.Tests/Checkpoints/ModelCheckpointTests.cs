using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using DeepSeekV3.Tests.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints;

public class ModelCheckpointTests
{
    private static readonly ModelConfig Tiny = ModelPresets.Tiny;

    /// <summary>Every tensor name the released checkpoint has, for a model of this config, built from its patterns
    /// (docs/reference-notes.md#checkpoint-format).</summary>
    private static SortedSet<string> SpecTensorNames(ModelConfig c, bool fp8)
    {
        var names = new SortedSet<string> { "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight" };
        void Linear(string name)
        {
            names.Add(name + ".weight");
            if (fp8) names.Add(name + ".weight_scale_inv");
        }
        for (int l = 0; l < c.NumHiddenLayers + c.NumNextnPredictLayers; l++)
        {
            string p = $"model.layers.{l}";
            names.Add($"{p}.input_layernorm.weight");
            names.Add($"{p}.post_attention_layernorm.weight");
            foreach (var proj in new[] { "q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj" })
                Linear($"{p}.self_attn.{proj}");
            names.Add($"{p}.self_attn.q_a_layernorm.weight");
            names.Add($"{p}.self_attn.kv_a_layernorm.weight");
            bool moe = l >= c.FirstKDenseReplace;
            var ffns = moe
                ? Enumerable.Range(0, c.NRoutedExperts).Select(e => $"{p}.mlp.experts.{e}").Append($"{p}.mlp.shared_experts")
                : [$"{p}.mlp"];
            foreach (var ffn in ffns)
                foreach (var proj in new[] { "gate_proj", "up_proj", "down_proj" })
                    Linear($"{ffn}.{proj}");
            if (moe)
            {
                names.Add($"{p}.mlp.gate.weight");
                names.Add($"{p}.mlp.gate.e_score_correction_bias");
            }
            if (l >= c.NumHiddenLayers)
            {
                foreach (var n in new[] { "enorm.weight", "hnorm.weight", "eh_proj.weight", "shared_head.norm.weight",
                                          "shared_head.head.weight", "embed_tokens.weight" })
                    names.Add($"{p}.{n}");
            }
        }
        return names;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Saved_checkpoint_has_exactly_the_hf_tensor_names(bool fp8)
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create();
        ModelCheckpoint.Save(model, dir.Path, new ModelCheckpoint.SaveOptions { Fp8 = fp8 });
        using var reader = CheckpointReader.Open(dir.Path);
        var expected = SpecTensorNames(Tiny, fp8);
        var actual = new SortedSet<string>(reader.TensorNames);
        Assert.True(expected.SetEquals(actual),
            $"missing: {string.Join(", ", expected.Except(actual))}; extra: {string.Join(", ", actual.Except(expected))}");
        Assert.Equal(fp8 ? SafetensorsDType.F8_E4M3 : SafetensorsDType.BF16, reader.Info("model.layers.0.self_attn.o_proj.weight").DType);
        Assert.Equal(SafetensorsDType.F32, reader.Info("model.layers.1.mlp.gate.e_score_correction_bias").DType);
        Assert.Equal(SafetensorsDType.BF16, reader.Info("model.layers.3.eh_proj.weight").DType);
        Assert.Equal(fp8, ModelCheckpoint.LoadConfig(dir.Path).QuantizationConfig is not null);
        if (fp8)
        {
            // kv_a_proj_with_mqa is [32 + 8, 64]: one partial 128×128 block → scale grid [1, 1].
            Assert.Equal(new long[] { 1, 1 }, reader.Info("model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv").Shape);
            Assert.Equal(SafetensorsDType.F32, reader.Info("model.layers.0.self_attn.kv_a_proj_with_mqa.weight_scale_inv").DType);
        }
    }

    [Fact]
    public void Fp32_save_then_load_reproduces_the_logits_exactly()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create();
        ModelCheckpoint.Save(model, dir.Path, new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32 });
        using var loaded = ModelCheckpoint.Load(dir.Path);
        using var tokens = TinyModels.Tokens(1, 6, Tiny.VocabSize);
        using var a = model.Forward(tokens);
        using var b = loaded.Forward(tokens);
        Assert.True(a.Logits.equal(b.Logits).all().item<bool>());
    }

    [Theory]
    [InlineData(false, 1L << 40)]
    [InlineData(true, 1L << 40)]
    [InlineData(false, 64 * 1024)]
    public void Save_load_save_writes_identical_files(bool fp8, long maxShardBytes)
    {
        using var first = new TempDirectory();
        using var second = new TempDirectory();
        using var model = TinyModels.Create();
        var options = new ModelCheckpoint.SaveOptions { Fp8 = fp8, MaxShardBytes = maxShardBytes };
        ModelCheckpoint.Save(model, first.Path, options);
        using var loaded = ModelCheckpoint.Load(first.Path, dtype: ScalarType.Float32);
        ModelCheckpoint.Save(loaded, second.Path, options);
        var files = Directory.GetFiles(first.Path).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(files, Directory.GetFiles(second.Path).Select(Path.GetFileName).Order().ToArray());
        if (maxShardBytes < 1 << 20) Assert.Contains("model.safetensors.index.json", files);
        foreach (var f in files)
            Assert.True(File.ReadAllBytes(first.File(f!)).AsSpan().SequenceEqual(File.ReadAllBytes(second.File(f!))), f);
    }

    [Fact]
    public void Fp8_checkpoint_runs_close_to_the_bf16_checkpoint()
    {
        using var bf16Dir = new TempDirectory();
        using var fp8Dir = new TempDirectory();
        using var model = TinyModels.Create();
        ModelCheckpoint.Save(model, bf16Dir.Path);
        ModelCheckpoint.Save(model, fp8Dir.Path, new ModelCheckpoint.SaveOptions { Fp8 = true });
        using var bf16 = ModelCheckpoint.Load(bf16Dir.Path);
        using var fp8 = ModelCheckpoint.Load(fp8Dir.Path);
        using var tokens = TinyModels.Tokens(2, 8, Tiny.VocabSize);
        using var a = bf16.Forward(tokens);
        using var b = fp8.Forward(tokens);
        // E4M3 keeps 3 mantissa bits: a weight moves by up to 2⁻⁴ of itself (rms about 2⁻⁴/√3 = 3.6%), against 2⁻⁹
        // for bf16, so the FP8 model's logits differ from the bf16 model's by the FP8 rounding alone. Measured:
        // relative RMS difference about 5% (cosine 0.9987), of the order of one matrix's rounding, as each logit
        // passes through a few rounded projections whose errors are independent. The bound 8% leaves a 1.5×
        // margin; the former cosine > 0.99 allowed 14%, and a wrong block scale gives O(100%).
        double relative = ((a.Logits - b.Logits).norm().item<float>()) / a.Logits.norm().item<float>();
        Assert.True(relative < 0.08, $"relative RMS difference {relative:P2}");
        // And each FP8 weight dequantizes to within E4M3 precision of its original: per 128×128 block with scale
        // s = amax/448, |w − s·q| ≤ max(2⁻⁴·|w|, 2⁻¹⁰·s) (half a step of the normal and of the subnormal grid),
        // plus 2⁻⁸ of |w| for the bf16 rounding the checkpoint applies before quantizing.
        using var w = model.state_dict()["model.layers.0.self_attn.q_b_proj.weight"].to(ScalarType.Float64);
        using var w8 = fp8.state_dict()["model.layers.0.self_attn.q_b_proj.weight"].to(ScalarType.Float64);
        Assert.True(w.shape[0] <= 128 && w.shape[1] <= 128, "one block");
        double scale = w.abs().max().item<double>() / 448;
        using var allowed = maximum(w.abs() * Math.Pow(2, -4), tensor(Math.Pow(2, -10) * scale, ScalarType.Float64)) + w.abs() * Math.Pow(2, -8);
        Assert.True(((w - w8).abs() <= allowed).all().item<bool>());
    }

    [Fact]
    public void Missing_tensor_is_named()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create();
        var tensors = model.state_dict().Where(kv => kv.Key != "model.layers.2.self_attn.o_proj.weight")
            .Select(kv => (kv.Key, kv.Value)).ToList();
        CheckpointWriter.Write(dir.Path, tensors);
        Tiny.Save(dir.File("config.json"));
        var e = Assert.Throws<CheckpointFormatException>(() => ModelCheckpoint.Load(dir.Path));
        Assert.Contains("model.layers.2.self_attn.o_proj.weight", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Unexpected_tensor_is_named()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create();
        var tensors = model.state_dict().Select(kv => (kv.Key, kv.Value)).ToList();
        tensors.Add(("model.layers.0.self_attn.rotary_emb.inv_freq", zeros(4)));
        CheckpointWriter.Write(dir.Path, tensors);
        Tiny.Save(dir.File("config.json"));
        var e = Assert.Throws<CheckpointFormatException>(() => ModelCheckpoint.Load(dir.Path));
        Assert.Contains("rotary_emb.inv_freq", e.Message);
    }

    [Fact]
    public void Tensor_shape_that_contradicts_the_config_is_named_with_both_shapes()
    {
        using var dir = new TempDirectory();
        using var model = TinyModels.Create();
        ModelCheckpoint.Save(model, dir.Path);
        // Same tensors, but the config claims a wider kv_lora_rank.
        (Tiny with { KvLoraRank = 48 }).Save(dir.File("config.json"));
        var e = Assert.Throws<CheckpointFormatException>(() => ModelCheckpoint.Load(dir.Path));
        Assert.Contains("model.layers.0.self_attn.kv_a_proj_with_mqa.weight", e.Message);
        Assert.Contains("expected shape [56, 64]", e.Message);
        Assert.Contains("found [40, 64]", e.Message);
    }

    [Fact]
    public void Missing_or_malformed_config_is_a_clear_error()
    {
        using var dir = new TempDirectory();
        Assert.Throws<ConfigException>(() => ModelCheckpoint.Load(dir.Path));
        File.WriteAllText(dir.File("config.json"), "{ not json");
        var e = Assert.Throws<ConfigException>(() => ModelCheckpoint.Load(dir.Path));
        Assert.Contains("config.json", e.Message);
        Assert.Throws<CheckpointFormatException>(() => ModelCheckpoint.Load(dir.File("nope")));
    }
}
