using System.Text.Json.Serialization;

namespace DeepSeekV3.Configuration;

/// <summary><c>scoring_func</c>: how the router turns its logits into expert affinities (report eq. 15).</summary>
[JsonConverter(typeof(ConfigEnumConverter<ScoringFunction>))]
public enum ScoringFunction
{
    /// <summary>s = sigmoid(u·e), each expert on its own (DeepSeek-V3).</summary>
    [JsonStringEnumMemberName("sigmoid")] Sigmoid,

    /// <summary>s = softmax over all routed experts (DeepSeek-V2).</summary>
    [JsonStringEnumMemberName("softmax")] Softmax,
}
