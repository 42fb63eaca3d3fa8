using DeepSeekV3.Configuration;
using static TorchSharp.torch;

namespace DeepSeekV3.Checkpoints.Gguf;

/// <summary>
/// Maps our HF-named tensors to llama.cpp's <c>deepseek2</c> tensor names. Data stays HF row-major (ggml ne is the
/// shape reversed) except for MLA's kv_b_proj, which llama.cpp wants split per head into attn_k_b (the key rows,
/// transposed to [kv_lora, nope]) and attn_v_b (the value rows as they are); routed experts are stacked into one
/// [E, out, in] tensor per projection. MTP layers (index ≥ num_hidden_layers) are not part of deepseek2.
/// Vectors and the router stay F32 whatever the requested type, as llama.cpp's converter does.
/// </summary>
public static class DeepSeek2Tensors
{
    public static void AddTo(GgufWriter writer, ModelConfig config, CheckpointReader reader, GgufTensorType type)
    {
        var map = new Mapper(writer, reader, type);
        map.Copy("token_embd.weight", "model.embed_tokens.weight");
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            string hf = $"model.layers.{layer}.", gg = $"blk.{layer}.";
            map.Copy(gg + "attn_norm.weight", hf + "input_layernorm.weight");
            AddAttention(map, config, hf + "self_attn.", gg);
            map.Copy(gg + "ffn_norm.weight", hf + "post_attention_layernorm.weight");
            if (config.IsMoeLayer(layer))
                AddMoe(map, config, hf + "mlp.", gg);
            else
                AddSwiGlu(map, hf + "mlp.", gg, "");
        }
        map.Copy("output_norm.weight", "model.norm.weight");
        map.Copy("output.weight", "lm_head.weight");
    }

    private static void AddAttention(Mapper map, ModelConfig config, string hf, string gg)
    {
        if (config.HasQueryCompression)
        {
            map.Copy(gg + "attn_q_a.weight", hf + "q_a_proj.weight");
            map.Copy(gg + "attn_q_a_norm.weight", hf + "q_a_layernorm.weight");
            map.Copy(gg + "attn_q_b.weight", hf + "q_b_proj.weight");
        }
        else
            map.Copy(gg + "attn_q.weight", hf + "q_proj.weight");
        map.Copy(gg + "attn_kv_a_mqa.weight", hf + "kv_a_proj_with_mqa.weight");
        map.Copy(gg + "attn_kv_a_norm.weight", hf + "kv_a_layernorm.weight");

        // kv_b_proj [H·(nope+v), r_kv] viewed [H, nope+v, r_kv]: per head the nope key rows, then the value rows.
        int heads = config.NumAttentionHeads, nope = config.QkNopeHeadDim, v = config.VHeadDim, rank = config.KvLoraRank;
        string kvb = hf + "kv_b_proj.weight";
        map.Derived(gg + "attn_k_b.weight", [heads, rank, nope], kvb,
            w => w.view(heads, nope + v, rank).narrow(1, 0, nope).transpose(1, 2).contiguous());   // [H, r_kv, nope]
        map.Derived(gg + "attn_v_b.weight", [heads, v, rank], kvb,
            w => w.view(heads, nope + v, rank).narrow(1, nope, v).contiguous());                   // [H, v, r_kv]
        map.Copy(gg + "attn_output.weight", hf + "o_proj.weight");
    }

    private static void AddMoe(Mapper map, ModelConfig config, string hf, string gg)
    {
        map.Copy(gg + "ffn_gate_inp.weight", hf + "gate.weight", forceF32: true);
        if (config.UsesCorrectionBias)
            map.Copy(gg + "exp_probs_b.bias", hf + "gate.e_score_correction_bias");
        foreach (var (ggName, hfName) in new[] { ("ffn_gate_exps", "gate_proj"), ("ffn_up_exps", "up_proj"), ("ffn_down_exps", "down_proj") })
            map.Stacked($"{gg}{ggName}.weight",
                Enumerable.Range(0, config.NRoutedExperts).Select(e => $"{hf}experts.{e}.{hfName}.weight").ToArray());
        if (config.NSharedExperts > 0)
            AddSwiGlu(map, hf + "shared_experts.", gg, "_shexp");
    }

    private static void AddSwiGlu(Mapper map, string hf, string gg, string suffix)
    {
        map.Copy($"{gg}ffn_gate{suffix}.weight", hf + "gate_proj.weight");
        map.Copy($"{gg}ffn_up{suffix}.weight", hf + "up_proj.weight");
        map.Copy($"{gg}ffn_down{suffix}.weight", hf + "down_proj.weight");
    }

    private sealed class Mapper(GgufWriter writer, CheckpointReader reader, GgufTensorType type)
    {
        // Q8_0 needs rows of whole 32-value blocks; a matrix whose rows are not falls back to F16, as llama.cpp's
        // quantizer does.
        private GgufTensorType TypeFor(long[] shape, bool forceF32) =>
            shape.Length == 1 || forceF32 ? GgufTensorType.F32 : type.Fits(shape[^1]) ? type : GgufTensorType.F16;

        private Tensor Read(string name) => reader.ReadDequantized(name, out _);

        public void Copy(string gguf, string hf, bool forceF32 = false)
        {
            long[] shape = reader.Info(hf).Shape;
            writer.AddTensor(gguf, shape, TypeFor(shape, forceF32), () => Read(hf));
        }

        public void Derived(string gguf, long[] shape, string hf, Func<Tensor, Tensor> transform) =>
            writer.AddTensor(gguf, shape, TypeFor(shape, false), () => transform(Read(hf)));

        public void Stacked(string gguf, string[] hf)
        {
            long[] shape = [hf.Length, .. reader.Info(hf[0]).Shape];
            writer.AddTensor(gguf, shape, TypeFor(shape, false), () => stack(hf.Select(Read).ToArray()));
        }
    }
}
