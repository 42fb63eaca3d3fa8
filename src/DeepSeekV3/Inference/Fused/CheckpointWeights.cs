using DeepSeekV3.Checkpoints;
using DeepSeekV3.Configuration;
using DeepSeekV3.Precision;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Fused;

/// <summary>
/// A checkpoint directory's weights for the fused decoder in a <see cref="WeightsMode"/>, without building a LibTorch
/// model: <see cref="WeightsMode.Stored"/> maps the files (<see cref="MappedCheckpointWeights"/>); the others read the
/// tensors one at a time and convert each before the next is read, so no fp32 copy of the whole model ever exists
/// unless fp32 was asked for.
/// </summary>
public static class CheckpointWeights
{
    /// <summary>The weights of <paramref name="directory"/> in <paramref name="mode"/>; the caller disposes them.</summary>
    public static IDecoderWeights Open(string directory, WeightsMode mode)
    {
        if (mode == WeightsMode.Stored) return new MappedCheckpointWeights(directory);
        var config = ModelCheckpoint.LoadConfig(directory);
        using var reader = CheckpointReader.Open(directory);
        var shared = HfTensorNames.MtpSharedCopies(config).Select(c => c.Stored).ToHashSet(StringComparer.Ordinal);
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            using var noGrad = no_grad();
            foreach (string name in reader.TensorNames)
            {
                // Scales travel with their weight; the MTP modules' copies of the embedding and head are the main ones.
                if (name.EndsWith(HfTensorNames.ScaleSuffix, StringComparison.Ordinal) || shared.Contains(name)) continue;
                if (mode == WeightsMode.Fp8 && HfTensorNames.IsFp8Weight(name))
                {
                    var (codes, scales) = Fp8(reader, name);
                    tensors[name] = codes;
                    tensors[HfTensorNames.ScaleOf(name)] = scales;
                    continue;
                }
                using var stored = reader.ReadDequantized(name, out _);
                var target = mode switch
                {
                    WeightsMode.Bf16 => ScalarType.BFloat16,
                    WeightsMode.F32 => ScalarType.Float32,
                    _ => stored.dtype is ScalarType.Float32 or ScalarType.BFloat16 ? stored.dtype : ScalarType.BFloat16,
                };
                tensors[name] = stored.to(target).contiguous();
            }
            return new TensorWeights(tensors, directory, owned: true);
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>A block weight as E4M3 codes and scales: as stored if it is FP8, else quantized from fp32.</summary>
    private static (Tensor Codes, Tensor Scales) Fp8(CheckpointReader reader, string name)
    {
        if (reader.Info(name).DType == SafetensorsDType.F8_E4M3)
            return (reader.Read(name), reader.Read(HfTensorNames.ScaleOf(name)).to(ScalarType.Float32));
        using var stored = reader.Read(name);
        using var wide = stored.to(ScalarType.Float32);
        return BlockQuantization.QuantizeWeight(wide);
    }
}
