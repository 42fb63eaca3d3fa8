using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Inference.Serving;

/// <summary>
/// What a prefill and a decode side compare before one continues the other's cache: SHA-256 of the model's
/// config.json and of the first rows of its embedding and lm_head weights (two checkpoints with one config, e.g. two
/// random initializations, differ there), as 64 hex digits.
/// </summary>
public static class ModelIdentity
{
    private const int SampledRows = 4;

    public static string Of(DeepSeekV3ForCausalLM model)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(model.Config.ToJson()));
        using (no_grad())
        {
            foreach (var weight in new[] { model.Model.EmbedTokens.weight!, model.LmHead.Weight })
            {
                using var rows = weight.narrow(0, 0, Math.Min(SampledRows, weight.shape[0])).to(ScalarType.Float32).cpu().contiguous();
                hash.AppendData(MemoryMarshal.AsBytes(rows.data<float>().ToArray().AsSpan()));
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
