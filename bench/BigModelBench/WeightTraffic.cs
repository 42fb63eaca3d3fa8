using DeepSeekV3.Checkpoints;
using DeepSeekV3.Checkpoints.Gguf;
using DeepSeekV3.Configuration;

namespace DeepSeekV3.Bench;

/// <summary>
/// Bytes of weights one decode step reads, from the stored tensors themselves (their real types: Q8_0 blocks,
/// FP8 with scales, F32 router): every non-expert tensor whole, the embedding one row per token, and of each MoE
/// layer's routed experts the share a step selects. For a batch of b tokens routed uniformly at random (random
/// weights give no preference), a layer reads E·(1 − (1 − K/E)^b) distinct experts.
/// </summary>
internal sealed record WeightTraffic(long DenseBytes, long ExpertBytes, long EmbeddingRowBytes, int Experts, int ExpertsPerToken)
{
    /// <summary>Expected bytes read by one forward step over <paramref name="batch"/> tokens.</summary>
    public double BytesPerStep(int batch)
    {
        return DenseBytes + batch * EmbeddingRowBytes + ExpertBytesPerStep(batch);
    }

    /// <summary>The routed experts' part of <see cref="BytesPerStep"/>.</summary>
    public double ExpertBytesPerStep(int batch) =>
        Experts == 0 ? 0 : ExpertBytes * (1 - Math.Pow(1 - (double)ExpertsPerToken / Experts, batch));

    public static WeightTraffic FromGguf(string path, ModelConfig config)
    {
        var file = GgufFile.Read(path);
        long dense = 0, experts = 0, embeddingRow = 0;
        foreach (var tensor in file.Tensors)
        {
            if (tensor.Name == "token_embd.weight")
                embeddingRow = tensor.ByteLength / tensor.Dimensions[^1];
            else if (tensor.Name.Contains("_exps.", StringComparison.Ordinal))
                experts += tensor.ByteLength;
            else
                dense += tensor.ByteLength;
        }
        return new(dense, experts, embeddingRow, config.NRoutedExperts, config.NumExpertsPerTok);
    }

    /// <summary>The same from a safetensors model directory (MTP layers are not run by decode and not counted).</summary>
    public static WeightTraffic FromCheckpoint(string directory, ModelConfig config)
    {
        using var reader = CheckpointReader.Open(directory);
        long dense = 0, experts = 0, embeddingRow = 0;
        foreach (string name in reader.TensorNames)
        {
            var info = reader.Info(name);
            if (name.StartsWith("model.layers.", StringComparison.Ordinal)
                && int.Parse(name.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture) >= config.NumHiddenLayers)
                continue;
            if (name == "model.embed_tokens.weight")
                embeddingRow = info.ByteLength / info.Shape[0];
            else if (name.Contains(".mlp.experts.", StringComparison.Ordinal))
                experts += info.ByteLength;
            else
                dense += info.ByteLength;
        }
        return new(dense, experts, embeddingRow, config.NRoutedExperts, config.NumExpertsPerTok);
    }
}
