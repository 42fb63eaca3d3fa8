using System.Text.Json.Serialization;

namespace DeepSeekV3.Training.Checkpointing;

/// <summary>
/// Everything besides tensors that a resumed run needs to continue exactly: completed steps, the data cursor
/// (the only randomness of the loop: seeded window permutations per epoch), counters, and the settings that must
/// not change across a resume. Saved as <c>trainer_state.json</c>.
/// </summary>
public sealed record TrainerState
{
    [JsonPropertyName("step")] public long Step { get; init; }
    [JsonPropertyName("optimizer_steps")] public long OptimizerSteps { get; init; }
    [JsonPropertyName("data_seed")] public long DataSeed { get; init; }
    [JsonPropertyName("data_epoch")] public long DataEpoch { get; init; }
    [JsonPropertyName("data_position")] public long DataPosition { get; init; }
    [JsonPropertyName("tokens_seen")] public long TokensSeen { get; init; }
    [JsonPropertyName("skipped_steps")] public long SkippedSteps { get; init; }
    [JsonPropertyName("balance")] public string Balance { get; init; } = "";
    [JsonPropertyName("sequence_length")] public int SequenceLength { get; init; }
}
