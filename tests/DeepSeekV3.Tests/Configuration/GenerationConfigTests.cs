using System.Text.Json;
using DeepSeekV3.Configuration;
using DeepSeekV3.Inference;
using DeepSeekV3.Server;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Inference;

namespace DeepSeekV3.Tests.Configuration;

public class GenerationConfigTests
{
    private static GenerationConfig? Load(string json)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File(GenerationConfig.FileName), json);
        return GenerationConfig.Load(dir.Path);
    }

    [Fact]
    public void The_file_fills_only_the_fields_it_has()
    {
        var config = Load("""{"bos_token_id": 0, "do_sample": true, "temperature": 0.6, "top_p": 0.9}""")!;
        var fallback = new SamplingParams { Temperature = 1, TopK = 5, RepetitionPenalty = 1.2, MaxTokens = 7 };
        var merged = config.Over(fallback);
        Assert.Equal(fallback with { Temperature = 0.6, TopP = 0.9 }, merged);
    }

    [Fact]
    public void Do_sample_false_means_greedy_whatever_the_temperature()
    {
        var config = Load("""{"do_sample": false, "temperature": 0.7}""")!;
        Assert.True(config.Over(new SamplingParams { Temperature = 1 }).IsGreedy);
    }

    [Fact]
    public void No_file_is_null_and_a_bad_field_is_named()
    {
        using (var dir = new TempDirectory()) Assert.Null(GenerationConfig.Load(dir.Path));
        var e = Assert.Throws<ConfigException>(() => Load("""{"top_p": 1.5}"""));
        Assert.Contains("\"top_p\" = 1.5 must be a number in (0, 1]", e.Message);
        Assert.Equal("top_p", e.Field);
        Assert.Contains("must be true or false", Assert.Throws<ConfigException>(() => Load("""{"do_sample": "yes"}""")).Message);
        Assert.Contains("not valid JSON", Assert.Throws<ConfigException>(() => Load("{")).Message);
    }

    [Fact]
    public void The_bundled_model_ships_chat_sampling_defaults()
    {
        var config = GenerationConfig.Load(BundledModelTests.ModelDirectory());
        Assert.NotNull(config);
        var sampling = config.Over(new SamplingParams());
        Assert.Equal((0.8, 0.95, 1.1), (sampling.Temperature, sampling.TopP, sampling.RepetitionPenalty));
    }

    [Fact]
    public void A_server_request_without_sampling_fields_takes_the_defaults_and_explicit_fields_win()
    {
        var defaults = new SamplingParams { Temperature = 0.8, TopP = 0.95, RepetitionPenalty = 1.1 };
        using var empty = JsonDocument.Parse("{}");
        var absent = GenerationFields.Read(empty.RootElement, chat: true, defaults).Sampling;
        Assert.Equal((0.8, 0.95, 1.1, 0), (absent.Temperature, absent.TopP, absent.RepetitionPenalty, absent.TopK));
        using var given = JsonDocument.Parse("""{"temperature": 0, "top_p": 0.5, "top_k": 3, "repetition_penalty": 1.0}""");
        var explicitFields = GenerationFields.Read(given.RootElement, chat: false, defaults).Sampling;
        Assert.Equal((0.0, 0.5, 1.0, 3), (explicitFields.Temperature, explicitFields.TopP, explicitFields.RepetitionPenalty, explicitFields.TopK));
        // An explicit temperature 0 alone is plain greedy, as before the repetition guard.
        using var greedy = JsonDocument.Parse("""{"temperature": 0}""");
        Assert.Equal(1.0, GenerationFields.Read(greedy.RootElement, chat: true, defaults).Sampling.RepetitionPenalty);
        // A model without generation_config.json: OpenAI's default temperature 1.
        Assert.Equal(1.0, GenerationFields.Read(empty.RootElement, chat: true, DefaultSampling.OpenAi).Sampling.Temperature);
    }
}
