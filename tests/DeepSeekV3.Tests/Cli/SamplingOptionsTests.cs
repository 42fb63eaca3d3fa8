using System.CommandLine;
using DeepSeekV3.Cli.Commands;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Tests.Checkpoints;

namespace DeepSeekV3.Tests.Cli;

public class SamplingOptionsTests
{
    private static readonly SamplingParams ChatLike = new() { Temperature = 0.8, TopP = 0.95, RepetitionPenalty = 1.1 };

    private static SamplingParams Read(SamplingParams defaults, params string[] args)
    {
        var options = new SamplingOptions();
        var command = new Command("test");
        options.AddTo(command);
        return options.Read(command.Parse(args), defaults);
    }

    [Fact]
    public void Without_options_the_command_defaults_hold()
    {
        var chat = Read(ChatLike);
        Assert.Equal((0.8, 0.95, 1.1, 64), (chat.Temperature, chat.TopP, chat.RepetitionPenalty, chat.RepetitionWindow));
        Assert.Equal(new SamplingParams(), Read(new SamplingParams()));          // generate: greedy, as before
    }

    [Fact]
    public void An_explicit_temperature_0_is_plain_greedy_unless_a_penalty_is_asked_for()
    {
        Assert.Equal((0.0, 1.0), Read(ChatLike, "--temperature", "0") is var g ? (g.Temperature, g.RepetitionPenalty) : default);
        var penalized = Read(ChatLike, "--temperature", "0", "--repeat-penalty", "1.3", "--repeat-last-n", "16");
        Assert.Equal((0.0, 1.3, 16), (penalized.Temperature, penalized.RepetitionPenalty, penalized.RepetitionWindow));
        Assert.Equal(1.1, Read(ChatLike, "--temperature", "0.5").RepetitionPenalty);
    }

    [Fact]
    public void Chat_defaults_are_the_model_generation_config_over_llama_cpp_chat_sampling()
    {
        using var dir = new TempDirectory();
        var none = ChatCommand.ChatDefaults(dir.Path);
        Assert.Equal((0.8, 0.95, 1.1), (none.Temperature, none.TopP, none.RepetitionPenalty));
        File.WriteAllText(dir.File(GenerationConfig.FileName), """{"temperature": 0.3}""");
        var file = ChatCommand.ChatDefaults(dir.Path);
        Assert.Equal((0.3, 0.95, 1.1), (file.Temperature, file.TopP, file.RepetitionPenalty));
    }

    [Fact]
    public void A_bad_penalty_is_refused_with_its_name()
    {
        var e = Assert.Throws<InvalidArgumentException>(() => Read(ChatLike, "--repeat-penalty", "0"));
        Assert.Contains("repetition_penalty = 0", e.Message);
    }
}
