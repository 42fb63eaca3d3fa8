using System.CommandLine;
using DeepSeekV3.Inference;

namespace DeepSeekV3.Cli.Commands;

/// <summary>The sampling options of `generate` and `chat`, with llama.cpp/vLLM names. Each command passes its own
/// defaults (greedy for `generate`; the model's generation_config.json or llama.cpp's chat sampling for `chat`); an
/// option given on the command line replaces its default.</summary>
internal sealed class SamplingOptions
{
    public Option<int> MaxTokens { get; } = new("--max-tokens") { Description = "New tokens at most", DefaultValueFactory = _ => 128 };
    public Option<double?> Temperature { get; } = new("--temperature") { Description = "0 = greedy (default: generate 0; chat the model's generation_config.json, else 0.8)" };
    public Option<double?> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass, 1 = off (default: generate 1; chat the model's generation_config.json, else 0.95)" };
    public Option<int?> TopK { get; } = new("--top-k") { Description = "Keep the k most likely tokens, 0 = off (default 0, or the model's generation_config.json in chat)" };
    public Option<double?> RepeatPenalty { get; } = new("--repeat-penalty") { Description = "Penalize the last --repeat-last-n tokens, 1 = off (default: generate 1; chat the model's generation_config.json, else 1.1; an explicit --temperature 0 alone turns it off)" };
    public Option<int> RepeatLastN { get; } = new("--repeat-last-n") { Description = "Context tokens the repeat penalty looks back over", DefaultValueFactory = _ => SamplingParams.DefaultRepetitionWindow };
    public Option<long?> Seed { get; } = new("--seed") { Description = "Sampling seed (default: random)" };
    public Option<string[]> Stop { get; } = new("--stop") { Description = "Stop strings (repeatable)", AllowMultipleArgumentsPerToken = true };
    public Option<string> Speculative { get; } = new("--speculative") { Description = "none, or mtp: MTP speculative decoding", DefaultValueFactory = _ => "none" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { MaxTokens, Temperature, TopP, TopK, RepeatPenalty, RepeatLastN, Seed, Stop, Speculative })
            command.Options.Add(option);
    }

    /// <summary><paramref name="defaults"/> with every option the command line gives in its place
    /// (<see cref="SamplingParams.WithRequested"/>: an explicit <c>--temperature 0</c> alone is plain greedy).</summary>
    public SamplingParams Read(ParseResult result, SamplingParams defaults) =>
        (defaults.WithRequested(result.GetValue(Temperature), result.GetValue(TopP), result.GetValue(TopK), result.GetValue(RepeatPenalty)) with
        {
            MaxTokens = result.GetValue(MaxTokens),
            RepetitionWindow = result.GetValue(RepeatLastN),
            Seed = result.GetValue(Seed),
        }).Validated();

    public bool ReadSpeculative(ParseResult result) => result.GetValue(Speculative)!.ToLowerInvariant() switch
    {
        "none" => false,
        "mtp" => true,
        var other => throw new InvalidArgumentException($"--speculative \"{other}\": expected none or mtp"),
    };
}
