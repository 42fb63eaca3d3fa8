using DeepSeekV3.Configuration;
using DeepSeekV3.Modeling;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Modeling;

/// <summary>Small models and inputs shared by the modeling tests.</summary>
internal static class TinyModels
{
    public static DeepSeekV3ForCausalLM Create(ModelConfig? config = null, long seed = 1, double std = 0.02)
    {
        var model = new DeepSeekV3ForCausalLM(config ?? ModelPresets.Tiny);
        // A larger std than the report's 0.006 makes attention and routing decisions non-trivial in tiny models.
        WeightInitializer.Initialize(model, seed, std);
        model.eval();
        return model;
    }

    public static Tensor Tokens(int batch, int length, int vocab, long seed = 7)
    {
        using var generator = new Generator((ulong)seed);
        return randint(0, vocab, [batch, length], dtype: ScalarType.Int64, generator: generator);
    }

    /// <summary>One prompt of <paramref name="length"/> random ids of the tiny preset's vocabulary.</summary>
    public static long[] Prompt(int length, int seed)
    {
        using var t = Tokens(1, length, ModelPresets.Tiny.VocabSize, seed);
        return t.data<long>().ToArray();
    }
}
