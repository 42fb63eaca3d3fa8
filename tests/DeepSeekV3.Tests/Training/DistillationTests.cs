using DeepSeekV3.Checkpoints;
using DeepSeekV3.Inference;
using DeepSeekV3.IO;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Tests.Modeling;
using DeepSeekV3.Tokenization;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Distillation;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class DistillationTests
{
    /// <summary>KL(p ‖ q) of softmax(t/τ), softmax(s/τ), in doubles, times τ².</summary>
    private static double HandKl(double[] teacher, double[] student, double tau)
    {
        double[] Softmax(double[] z)
        {
            var e = z.Select(v => Math.Exp(v / tau)).ToArray();
            return e.Select(v => v / e.Sum()).ToArray();
        }
        var p = Softmax(teacher);
        var q = Softmax(student);
        return tau * tau * p.Select((pi, i) => pi * Math.Log(pi / q[i])).Sum();
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(2.0)]
    public void Kd_loss_matches_hand_computed_kl_on_a_three_token_vocabulary(double tau)
    {
        // Row 1 by hand at τ 1: p = softmax(1, 0, 0) = (e, 1, 1)/(e + 2) = (0.5761, 0.2119, 0.2119), q uniform:
        // KL = Σ p log(3p) = 0.5761·ln 1.7284 + 2·0.2119·ln 0.6358 = 0.31523 − 0.19195 = 0.12328.
        double[][] teacher = [[1, 0, 0], [0.5, -1, 2]];
        double[][] student = [[0, 0, 0], [0, 1, -1]];
        if (tau == 1.0) Assert.Equal(0.12328, HandKl(teacher[0], student[0], 1), 5);
        double expected = (HandKl(teacher[0], student[0], tau) + HandKl(teacher[1], student[1], tau)) / 2;
        using var t = tensor(teacher.SelectMany(r => r).Select(v => (float)v).ToArray(), [2, 3]);
        using var s = tensor(student.SelectMany(r => r).Select(v => (float)v).ToArray(), [2, 3]);
        using var loss = LogitDistillation.Loss(s, t, tau);
        Assert.Equal(expected, loss.item<float>(), 5);
        using var zero = LogitDistillation.Loss(t, t, tau);
        Assert.Equal(0, zero.item<float>(), 6);
    }

    [Fact]
    public void Teacher_data_is_the_same_for_the_same_seed_and_the_filter_keeps_only_correct_answers()
    {
        string dir = BundledModelTests.ModelDirectory();
        using var teacher = ModelCheckpoint.Load(dir);
        var tokenizer = ByteLevelBpeTokenizer.Load(dir);
        var prompts = new[] { "What is 2 + 3?", "What is 4 + 4?" }.Select((q, i) => new DeepSeekV3.Evaluation.EvalItem(i + 1, Question: q, Reference: i == 0 ? "5" : "8")).ToList();
        var options = new TeacherSamplingOptions { Samples = 3, Sampling = new SamplingParams { Temperature = 1.0, MaxTokens = 6 }, Seed = 9 };
        var first = TeacherData.Generate(teacher, tokenizer, prompts, options);
        var again = TeacherData.Generate(teacher, tokenizer, prompts, options);
        var other = TeacherData.Generate(teacher, tokenizer, prompts, options with { Seed = 10 });
        Assert.Equal(first, again);
        Assert.NotEqual(first.Select(e => e.Completion), other.Select(e => e.Completion));
        Assert.All(first, e => Assert.Equal(e.Correct, DeepSeekV3.Evaluation.AnswerExtraction.Matches(e.Completion, e.Question.Contains("2 + 3") ? "5" : "8")));
        var filtered = TeacherData.Generate(teacher, tokenizer, prompts, options with { RewardFilter = true });
        Assert.Equal(first.Where(e => e.Correct == true), filtered);

        using var tmp = new TempDirectory();
        TeacherData.WriteChat(tmp.File("d.jsonl"), first);
        var chats = ChatExamples.Load(tmp.File("d.jsonl"), tokenizer);
        Assert.Equal(first.Count, chats.Count);
        Assert.All(chats, c => Assert.True(c.TrainedTokens > 0));
    }

    [Fact]
    public void Reward_filter_needs_an_answer_on_every_prompt()
    {
        using var tmp = new TempDirectory();
        File.WriteAllText(tmp.File("p.jsonl"), "{\"question\": \"a\", \"answer\": 1}\n{\"question\": \"b\"}\n");
        Assert.Equal(2, TeacherData.LoadPrompts(tmp.File("p.jsonl"), needAnswers: false).Count);
        var error = Assert.Throws<DataFormatException>(() => TeacherData.LoadPrompts(tmp.File("p.jsonl"), needAnswers: true));
        Assert.StartsWith($"{tmp.File("p.jsonl")}:2: no field \"answer\"", error.Message);
    }

    [Fact]
    public void Logit_distillation_brings_a_students_kl_to_its_teacher_down()
    {
        using var teacher = TinyModels.Create(seed: 1, std: 0.1);
        using var student = TinyModels.Create(seed: 2, std: 0.02);
        var rng = new DeepSeekV3.Randomness.SplitMix64(4);
        var examples = Enumerable.Range(0, 4).Select(_ =>
        {
            var tokens = Enumerable.Range(0, 12).Select(_ => (int)rng.NextLong(teacher.Config.VocabSize)).ToArray();
            return new SupervisedExample(tokens, tokens.Select((_, i) => i >= 4).ToArray());
        }).ToList();
        var data = PackedDataset.Pack(examples, new DataOptions { SequenceLength = 11, FimRate = 0, ValidationFraction = 0 });
        using var kd = new LogitDistillation(teacher, student, new LogitDistillationOptions { Steps = 8, BatchSequences = 4, LearningRate = 1e-2, Warmup = 0, Temperature = 2 });
        var windows = Enumerable.Range(0, (int)data.TrainWindows).Select(i => (long)i).ToList();
        double before = kd.Divergence(data, windows);
        kd.Run(data);
        double after = kd.Divergence(data, windows);
        Assert.True(after < 0.7 * before, $"KL {before:F4} → {after:F4}");
    }
}
