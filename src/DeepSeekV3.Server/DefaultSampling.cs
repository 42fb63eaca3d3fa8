using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;

namespace DeepSeekV3.Server;

/// <summary>
/// What a request that leaves sampling fields out gets: the model's generation_config.json over OpenAI's defaults
/// (vLLM's rule). One rule for /v1/chat/completions, /v1/completions, the chat page's initial settings and
/// <see cref="DeepSeekChatClient"/>.
/// </summary>
public static class DefaultSampling
{
    /// <summary>OpenAI's defaults for a model without generation_config.json: temperature 1, top_p 1, no penalty.</summary>
    public static SamplingParams OpenAi { get; } = new() { Temperature = 1.0 };

    /// <summary>The defaults for the model in <paramref name="modelDirectory"/>.</summary>
    /// <exception cref="ConfigException">Its generation_config.json is malformed.</exception>
    public static SamplingParams Of(string modelDirectory) => GenerationConfig.Load(modelDirectory)?.Over(OpenAi) ?? OpenAi;
}
