using System.CommandLine;
using DeepSeekV3.Inference;

namespace DeepSeekV3.Cli.Commands;

/// <summary>The sampling options of `generate` and `chat`, with llama.cpp/vLLM names and defaults.</summary>
internal sealed class SamplingOptions
{
    public Option<int> MaxTokens { get; } = new("--max-tokens") { Description = "New tokens at most", DefaultValueFactory = _ => 128 };
    public Option<double> Temperature { get; } = new("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 0.0 };
    public Option<double> TopP { get; } = new("--top-p") { Description = "Nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 1.0 };
    public Option<int> TopK { get; } = new("--top-k") { Description = "Keep the k most likely tokens (0 = off)", DefaultValueFactory = _ => 0 };
    public Option<long?> Seed { get; } = new("--seed") { Description = "Sampling seed (default: random)" };
    public Option<string[]> Stop { get; } = new("--stop") { Description = "Stop strings (repeatable)", AllowMultipleArgumentsPerToken = true };
    public Option<string> Speculative { get; } = new("--speculative") { Description = "none, or mtp: MTP speculative decoding", DefaultValueFactory = _ => "none" };

    public void AddTo(Command command)
    {
        foreach (Option option in new Option[] { MaxTokens, Temperature, TopP, TopK, Seed, Stop, Speculative })
            command.Options.Add(option);
    }

    public SamplingParams Read(ParseResult result) => new SamplingParams
    {
        MaxTokens = result.GetValue(MaxTokens),
        Temperature = result.GetValue(Temperature),
        TopP = result.GetValue(TopP),
        TopK = result.GetValue(TopK),
        Seed = result.GetValue(Seed),
    }.Validated();

    public bool ReadSpeculative(ParseResult result) => result.GetValue(Speculative)!.ToLowerInvariant() switch
    {
        "none" => false,
        "mtp" => true,
        var other => throw new InvalidArgumentException($"--speculative \"{other}\": expected none or mtp"),
    };
}
