using DeepSeekV3.Checkpoints;
using DeepSeekV3.Checkpoints.Gguf;
using DeepSeekV3.Configuration;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Checkpoints.Gguf;

public sealed class GgufExportTests : IDisposable
{
    private static readonly DeepSeekV3.Configuration.ModelConfig Config = GgufTestModels.PeerConfig;
    private readonly TempDirectory _temp = new();
    private readonly string _modelDir;

    public GgufExportTests()
    {
        using var model = GgufTestModels.Create(Config);
        _modelDir = GgufTestModels.Save(model, _temp.File("model"));
    }

    public void Dispose() => _temp.Dispose();

    private GgufFile Export(GgufTensorType type = GgufTensorType.F32, string name = "model.gguf", string? tokenizer = null)
    {
        string path = _temp.File(name);
        GgufExporter.Export(_modelDir, path, type, tokenizer);
        return GgufFile.Read(path);
    }

    [Fact]
    public void Metadata_round_trips_through_the_reader_with_deepseek2_keys_and_types()
    {
        var file = Export();
        var m = file.Metadata;
        Assert.Equal(3u, file.Version);
        Assert.Equal("deepseek2", m["general.architecture"].AsString());
        uint U(string key) => m["deepseek2." + key].AsUInt32();
        float F(string key) => m["deepseek2." + key].AsFloat32();

        Assert.Equal(512u, U("context_length"));
        Assert.Equal(64u, U("embedding_length"));
        Assert.Equal(3u, U("block_count"));                 // the MTP layer is not a block
        Assert.Equal(128u, U("feed_forward_length"));
        Assert.Equal(320u, U("vocab_size"));
        Assert.Equal(4u, U("attention.head_count"));
        Assert.Equal(1u, U("attention.head_count_kv"));
        Assert.Equal(24u + 8u, U("attention.key_length"));    // kv_lora + rope
        Assert.Equal(24u, U("attention.value_length"));       // kv_lora
        Assert.Equal(16u + 8u, U("attention.key_length_mla")); // nope + rope
        Assert.Equal(12u, U("attention.value_length_mla"));
        Assert.Equal(32u, U("attention.q_lora_rank"));
        Assert.Equal(24u, U("attention.kv_lora_rank"));
        Assert.Equal(1e-6f, F("attention.layer_norm_rms_epsilon"));
        Assert.Equal(8u, U("rope.dimension_count"));
        Assert.Equal(10000f, F("rope.freq_base"));
        Assert.Equal("yarn", m["deepseek2.rope.scaling.type"].AsString());
        Assert.Equal(4f, F("rope.scaling.factor"));
        Assert.Equal(128u, U("rope.scaling.original_context_length"));
        Assert.Equal(0.1f, F("rope.scaling.yarn_log_multiplier"));   // 0.1 × mscale_all_dim
        Assert.Equal(32f, F("rope.scaling.yarn_beta_fast"));
        Assert.Equal(1f, F("rope.scaling.yarn_beta_slow"));
        Assert.Equal(1u, U("leading_dense_block_count"));
        Assert.Equal(32u, U("expert_feed_forward_length"));
        Assert.Equal(8u, U("expert_count"));
        Assert.Equal(2u, U("expert_used_count"));
        Assert.Equal(1u, U("expert_shared_count"));
        Assert.Equal(4u, U("expert_group_count"));
        Assert.Equal(2u, U("expert_group_used_count"));
        Assert.Equal(2.5f, F("expert_weights_scale"));
        Assert.True(m["deepseek2.expert_weights_norm"].AsBool());
        Assert.Equal(2u, U("expert_gating_func"));   // sigmoid
        Assert.Equal(0u, m["general.file_type"].AsUInt32());
    }

    [Fact]
    public void Placeholder_vocabulary_has_vocab_size_tokens_bytes_specials_and_a_merge()
    {
        var m = Export().Metadata;
        Assert.Equal("gpt2", m["tokenizer.ggml.model"].AsString());
        string[] tokens = m["tokenizer.ggml.tokens"].AsArray<string>(GgufValueType.String);
        int[] types = m["tokenizer.ggml.token_type"].AsArray<int>(GgufValueType.Int32);
        Assert.Equal(Config.VocabSize, tokens.Length);
        Assert.Equal(Config.VocabSize, types.Length);
        Assert.Equal(tokens.Length, tokens.Distinct().Count());
        // BOS 0 / EOS 1 in the config: the specials sit there and the byte alphabet fills the next free ids.
        Assert.Equal((GgufVocabulary.BosText, GgufVocabulary.Control), (tokens[0], types[0]));
        Assert.Equal((GgufVocabulary.EosText, GgufVocabulary.Control), (tokens[1], types[1]));
        Assert.Equal(0u, m["tokenizer.ggml.bos_token_id"].AsUInt32());
        Assert.Equal(1u, m["tokenizer.ggml.eos_token_id"].AsUInt32());
        Assert.Equal("Ā", tokens[2]);            // byte 0x00
        Assert.Equal("Ġ", tokens[2 + 0x20]);     // byte 0x20 (space)
        Assert.Equal("A", tokens[2 + 0x41]);
        Assert.Equal("Ġt", tokens[2 + 256]);
        Assert.Equal(["Ġ t"], m["tokenizer.ggml.merges"].AsArray<string>(GgufValueType.String));
        Assert.Equal($"[PAD{Config.VocabSize - 1}]", tokens[^1]);
        Assert.Equal(GgufVocabulary.Unused, types[^1]);
    }

    [Fact]
    public void Tokenizer_json_vocabulary_merges_and_added_tokens_are_written_and_padded()
    {
        string tokenizer = _temp.File("tokenizer.json");
        File.WriteAllText(tokenizer, """
            {"added_tokens": [{"id": 5, "content": "<｜begin▁of▁sentence｜>", "special": true},
                              {"id": 6, "content": "<tool>", "special": false}],
             "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4},
                       "merges": ["a b", ["Ġ", "ab"]]}}
            """);
        var m = Export(tokenizer: tokenizer).Metadata;
        string[] tokens = m["tokenizer.ggml.tokens"].AsArray<string>(GgufValueType.String);
        int[] types = m["tokenizer.ggml.token_type"].AsArray<int>(GgufValueType.Int32);
        Assert.Equal(["a", "b", "ab", "Ġ", "Ġab", "<｜begin▁of▁sentence｜>", "<tool>", "[PAD7]"], tokens.Take(8));
        Assert.Equal([1, 1, 1, 1, 1, 3, 4, 5], types.Take(8));
        Assert.Equal(Config.VocabSize, tokens.Length);
        Assert.Equal(["a b", "Ġ ab"], m["tokenizer.ggml.merges"].AsArray<string>(GgufValueType.String));
    }

    [Fact]
    public void Tensor_infos_have_reversed_shapes_aligned_offsets_and_no_mtp_layer()
    {
        var file = Export();
        long[] Ne(string name) => file.Tensor(name).Dimensions;
        Assert.Equal([64, 320], Ne("token_embd.weight"));
        Assert.Equal([64, 320], Ne("output.weight"));
        Assert.Equal([64], Ne("output_norm.weight"));
        Assert.Equal([64, 32], Ne("blk.0.attn_q_a.weight"));
        Assert.Equal([32, 4 * 24], Ne("blk.0.attn_q_b.weight"));
        Assert.Equal([64, 24 + 8], Ne("blk.0.attn_kv_a_mqa.weight"));
        Assert.Equal([16, 24, 4], Ne("blk.0.attn_k_b.weight"));
        Assert.Equal([24, 12, 4], Ne("blk.0.attn_v_b.weight"));
        Assert.Equal([4 * 12, 64], Ne("blk.0.attn_output.weight"));
        Assert.Equal([64, 128], Ne("blk.0.ffn_gate.weight"));
        Assert.Equal([128, 64], Ne("blk.0.ffn_down.weight"));
        Assert.Equal([64, 8], Ne("blk.1.ffn_gate_inp.weight"));
        Assert.Equal([8], Ne("blk.1.exp_probs_b.bias"));
        Assert.Equal([64, 32, 8], Ne("blk.2.ffn_gate_exps.weight"));
        Assert.Equal([64, 32, 8], Ne("blk.2.ffn_up_exps.weight"));
        Assert.Equal([32, 64, 8], Ne("blk.2.ffn_down_exps.weight"));
        Assert.Equal([64, 32], Ne("blk.2.ffn_up_shexp.weight"));
        Assert.DoesNotContain(file.Tensors, t => t.Name.StartsWith("blk.3.", StringComparison.Ordinal));
        Assert.DoesNotContain(file.Tensors, t => t.Name.Contains("attn_kv_b", StringComparison.Ordinal));
        // 3 global + per layer 10 attention/norm tensors + 3 dense or 8 MoE tensors.
        Assert.Equal(3 + 3 * 10 + 3 + 2 * 8, file.Tensors.Count);
        Assert.All(file.Tensors, t => Assert.Equal(0, t.Offset % GgufWriter.Alignment));
        var ordered = file.Tensors.OrderBy(t => t.Offset).ToList();
        for (int i = 1; i < ordered.Count; i++)
            Assert.True(ordered[i].Offset >= ordered[i - 1].Offset + ordered[i - 1].ByteLength, ordered[i].Name);
        Assert.Equal(new FileInfo(file.Path).Length, file.DataStart + ordered[^1].Offset + ordered[^1].ByteLength
            + (GgufWriter.Alignment - ordered[^1].ByteLength % GgufWriter.Alignment) % GgufWriter.Alignment);
    }

    [Fact]
    public void Attention_k_b_is_each_heads_key_rows_of_kv_b_proj_transposed_and_v_b_the_value_rows()
    {
        var file = Export();
        using var reader = CheckpointReader.Open(_modelDir);
        using var kvb = reader.Read("model.layers.1.self_attn.kv_b_proj.weight");   // [H·(nope+v), r]
        float[,] w = ToMatrix(kvb);
        float[] kb = file.ReadFloats("blk.1.attn_k_b.weight"), vb = file.ReadFloats("blk.1.attn_v_b.weight");
        const int heads = 4, nope = 16, v = 12, rank = 24;
        for (int h = 0; h < heads; h++)
            for (int c = 0; c < rank; c++)
            {
                // k_b ne {nope, r, H}: element (d, c, h) at d + nope·(c + r·h) is W_UK[h][d, c].
                for (int d = 0; d < nope; d++)
                    Assert.Equal(w[h * (nope + v) + d, c], kb[d + nope * (c + rank * h)]);
                // v_b ne {r, v, H}: element (c, j, h) at c + r·(j + v·h) is W_UV[h][j, c], not transposed.
                for (int j = 0; j < v; j++)
                    Assert.Equal(w[h * (nope + v) + nope + j, c], vb[c + rank * (j + v * h)]);
            }
    }

    [Fact]
    public void Routed_experts_are_stacked_in_expert_order()
    {
        var file = Export();
        using var reader = CheckpointReader.Open(_modelDir);
        float[] stacked = file.ReadFloats("blk.2.ffn_down_exps.weight");
        int perExpert = 64 * 32;
        for (int e = 0; e < 8; e++)
        {
            using var expert = reader.Read($"model.layers.2.mlp.experts.{e}.down_proj.weight");
            Assert.Equal(expert.data<float>().ToArray(), stacked.Skip(e * perExpert).Take(perExpert));
        }
    }

    [Fact]
    public void F16_export_rounds_matrices_to_half_and_keeps_vectors_and_router_f32()
    {
        var file = Export(GgufTensorType.F16);
        using var reader = CheckpointReader.Open(_modelDir);
        Assert.Equal(1u, file.Metadata["general.file_type"].AsUInt32());
        Assert.Equal(GgufTensorType.F16, file.Tensor("blk.0.attn_q_a.weight").Type);
        using var qa = reader.Read("model.layers.0.self_attn.q_a_proj.weight");
        float[] expected = qa.data<float>().ToArray().Select(x => (float)(Half)x).ToArray();
        Assert.Equal(expected, file.ReadFloats("blk.0.attn_q_a.weight"));

        foreach (var (gguf, hf) in new[] { ("blk.1.ffn_gate_inp.weight", "model.layers.1.mlp.gate.weight"),
                     ("blk.1.exp_probs_b.bias", "model.layers.1.mlp.gate.e_score_correction_bias"),
                     ("output_norm.weight", "model.norm.weight") })
        {
            Assert.Equal(GgufTensorType.F32, file.Tensor(gguf).Type);
            using var value = reader.Read(hf);
            Assert.Equal(value.data<float>().ToArray(), file.ReadFloats(gguf));
        }
    }

    [Fact]
    public void Q8_0_export_stores_whole_block_rows_as_q8_0_within_half_a_step_and_falls_back_to_f16_elsewhere()
    {
        var file = Export(GgufTensorType.Q8_0);
        using var reader = CheckpointReader.Open(_modelDir);
        Assert.Equal(7u, file.Metadata["general.file_type"].AsUInt32());
        var info = file.Tensor("blk.0.attn_q_a.weight");                                  // rows of 64: two blocks each
        Assert.Equal(GgufTensorType.Q8_0, info.Type);
        Assert.Equal(info.ElementCount / 32 * 34, info.ByteLength);
        using var qa = reader.Read("model.layers.0.self_attn.q_a_proj.weight");
        float[] original = qa.data<float>().ToArray(), stored = file.ReadFloats("blk.0.attn_q_a.weight");
        for (int b = 0; b < original.Length / 32; b++)
        {
            // |x − d·q| ≤ d/2 for the unrounded scale d = max|x|/127, plus 127·|d − f16(d)| ≤ 127·d·2⁻¹¹ for storing d.
            double d = original.Skip(b * 32).Take(32).Max(Math.Abs) / 127;
            for (int i = b * 32; i < b * 32 + 32; i++)
                Assert.True(Math.Abs(original[i] - stored[i]) <= d * (0.5 + 127.0 / 2048) + 1e-12, $"element {i}: {original[i]} stored as {stored[i]}");
        }
        // attn_output's rows are H · v_head_dim = 48 values, not whole blocks: F16, as llama.cpp's quantizer falls back.
        Assert.Equal(GgufTensorType.F16, file.Tensor("blk.0.attn_output.weight").Type);
        Assert.Equal(GgufTensorType.F32, file.Tensor("blk.1.ffn_gate_inp.weight").Type);
    }

    [Fact]
    public void Fp8_checkpoint_is_dequantized_with_its_block_scales()
    {
        using var model = GgufTestModels.Create(Config);
        string fp8Dir = GgufTestModels.Save(model, _temp.File("fp8"), fp8: true);
        string path = _temp.File("fp8.gguf");
        GgufExporter.Export(fp8Dir, path);
        var file = GgufFile.Read(path);
        using var reader = CheckpointReader.Open(fp8Dir);
        Assert.Equal(SafetensorsDType.F8_E4M3, reader.Info("model.layers.0.self_attn.o_proj.weight").DType);
        using var dequantized = reader.ReadDequantized("model.layers.0.self_attn.o_proj.weight", out _);
        Assert.Equal(dequantized.data<float>().ToArray(), file.ReadFloats("blk.0.attn_output.weight"));
        Assert.Equal(GgufTensorType.F32, file.Tensor("blk.0.attn_output.weight").Type);
    }

    [Fact]
    public void Missing_model_directory_is_a_typed_error()
    {
        var error = Assert.Throws<CheckpointFormatException>(() => GgufExporter.Export(_temp.File("nope"), _temp.File("x.gguf")));
        Assert.Contains("nope", error.Message);
        Assert.False(File.Exists(_temp.File("x.gguf")));
    }

    [Fact]
    public void Unwritable_output_path_is_a_clear_error_and_leaves_nothing_behind()
    {
        string blocker = _temp.File("a-file");
        File.WriteAllText(blocker, "not a directory");
        string target = Path.Combine(blocker, "model.gguf");
        var error = Assert.Throws<GgufException>(() => GgufExporter.Export(_modelDir, target));
        Assert.StartsWith(target, error.Message);
        Assert.Contains("cannot write", error.Message);
        Assert.Equal("not a directory", File.ReadAllText(blocker));
    }

    [Fact]
    public void Export_failing_halfway_leaves_no_partial_file()
    {
        // A config promising 16 experts where the safetensors hold 8: expert 8 is first looked for while the
        // stacked expert tensors are written, i.e. after the header and earlier tensors are in the file.
        string dir = _temp.File("broken");
        Directory.CreateDirectory(dir);
        foreach (string f in Directory.GetFiles(_modelDir))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        (Config with { NRoutedExperts = 16 }).Save(Path.Combine(dir, ModelCheckpoint.ConfigFile));
        string output = _temp.File("out");
        Directory.CreateDirectory(output);
        Assert.Throws<TensorNotFoundException>(() => GgufExporter.Export(dir, Path.Combine(output, "m.gguf")));
        Assert.Empty(Directory.GetFileSystemEntries(output));
    }

    [Fact]
    public void Configs_llama_cpp_would_silently_misread_are_refused()
    {
        var lite = Config with { NumHiddenLayers = 27 };
        var error = Assert.Throws<GgufException>(() => DeepSeek2Metadata.For(lite, "config.json").ToList());
        Assert.Contains("q_lora_rank", error.Message);
        var mscale = Config with { RopeScaling = Config.RopeScaling! with { Mscale = 0.7 } };
        Assert.Throws<GgufException>(() => DeepSeek2Metadata.For(mscale, "config.json").ToList());
        // No query compression outside llama.cpp's "lite" layer counts: it would not load (key not found:
        // deepseek2.attention.q_lora_rank).
        var noQueryCompression = Config with { QLoraRank = null };
        error = Assert.Throws<GgufException>(() => DeepSeek2Metadata.For(noQueryCompression, "config.json").ToList());
        Assert.Contains("without q_lora_rank", error.Message);
        Assert.Null(Record.Exception(() => DeepSeek2Metadata.For(noQueryCompression with { NumHiddenLayers = 26 }, "config.json").ToList()));
        // Group-limited greedy scores a group by its best expert; llama.cpp only knows the top-2 sum.
        var v2Groups = Config with { ScoringFunc = ScoringFunction.Softmax, TopkMethod = TopkMethod.GroupLimitedGreedy };
        error = Assert.Throws<GgufException>(() => DeepSeek2Metadata.For(v2Groups, "config.json").ToList());
        Assert.Contains("group_limited_greedy", error.Message);
    }

    [Fact]
    public void Cli_export_gguf_writes_an_f16_file()
    {
        string path = _temp.File("cli.gguf");
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = DeepSeekV3.Cli.CliApp.Run(["export-gguf", "--model", _modelDir, "--out", path, "--type", "f16"], output, error);
        Assert.True(exit == 0, error.ToString());
        Assert.Contains("wrote", output.ToString());
        Assert.Equal(GgufTensorType.F16, GgufFile.Read(path).Tensor("token_embd.weight").Type);

        exit = DeepSeekV3.Cli.CliApp.Run(["export-gguf", "--model", _temp.File("missing"), "--out", path], output, error);
        Assert.Equal(2, exit);
        Assert.Contains("missing", error.ToString());
    }

    private static float[,] ToMatrix(Tensor t)
    {
        var values = t.data<float>().ToArray();
        int rows = (int)t.shape[0], cols = (int)t.shape[1];
        var m = new float[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                m[r, c] = values[r * cols + c];
        return m;
    }
}
