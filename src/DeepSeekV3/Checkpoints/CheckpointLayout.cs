using System.Text.RegularExpressions;

namespace DeepSeekV3.Checkpoints;

/// <summary>File names of a Hugging Face style model directory.</summary>
internal static partial class CheckpointLayout
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>"model-00001-of-00163.safetensors": 1-based shard number and shard count, five digits each.</summary>
    public static string ShardFileName(int number, int count) => $"model-{number:D5}-of-{count:D5}.safetensors";

    [GeneratedRegex(@"^model-\d{5}-of-\d{5}\.safetensors$")]
    public static partial Regex ShardFileNamePattern();
}
