using DeepSeekV3.Cli;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Tests.Inference;
using DeepSeekV3.Tokenization;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Objectives;
using static TorchSharp.torch;

namespace DeepSeekV3.Tests.Training;

public class SupervisedFineTuningTests
{
    [Fact]
    public void Loss_mask_covers_exactly_the_assistant_turns_and_their_end_of_sentence()
    {
        var tokenizer = ByteLevelBpeTokenizer.Load(BundledModelTests.ModelDirectory());
        ChatMessage[] messages =
        [
            ChatMessage.System("Answer briefly."), ChatMessage.User("What is 2 + 4?"), ChatMessage.Assistant("6"),
            ChatMessage.User("And 3 + 3?"), ChatMessage.Assistant("Also 6."),
        ];
        var example = ChatExamples.Render(messages, tokenizer);

        // The pieces tokenize as the whole rendered conversation does.
        string rendered = ChatTemplate.Render(messages, addGenerationPrompt: false);
        Assert.Equal(tokenizer.Encode(rendered, addSpecialTokens: false), example.Tokens);
        // By hand: the trained runs are "6<eos>" and "Also 6.<eos>"; everything else (BOS, system, user turns,
        // <｜Assistant｜>) is context.
        var runs = new List<string>();
        for (int i = 0; i < example.Tokens.Length; i++)
        {
            if (!example.Trained[i] || (i > 0 && example.Trained[i - 1])) continue;
            int end = i;
            while (end < example.Tokens.Length && example.Trained[end]) end++;
            runs.Add(tokenizer.Decode(example.Tokens[i..end]));
        }
        Assert.Equal(["6<｜end▁of▁sentence｜>", "Also 6.<｜end▁of▁sentence｜>"], runs);
        Assert.Equal(tokenizer.TokenToId("<｜Assistant｜>"), example.Tokens[Array.IndexOf(example.Trained, true) - 1]);
    }

    [Fact]
    public void Packed_labels_keep_trained_tokens_and_ignore_the_rest()
    {
        SupervisedExample[] examples =
        [
            new([0, 5, 6, 7, 1], [false, false, false, true, true]),
            new([0, 8, 9, 1], [false, false, true, true]),
        ];
        var data = PackedDataset.Pack(examples, new DataOptions { SequenceLength = 4, ValidationFraction = 0 });
        // Stream 0 5 6 7 1 0 8 9 1 → windows of 5 tokens starting at 0 and 4.
        Assert.Equal(2, data.TrainWindows);
        using var windows = data.Batch([0, 1], validation: false);
        using var labels = data.Labels([0, 1], validation: false)!;
        const long X = PackedDataset.IgnoredLabel;
        Assert.Equal([0L, 5, 6, 7, 1, 1, 0, 8, 9, 1], windows.data<long>().ToArray());
        Assert.Equal([X, X, X, 7, 1, 1, X, X, 9, 1], labels.data<long>().ToArray());
    }

    [Fact]
    public void Masked_cross_entropy_is_the_mean_over_trained_targets_and_zero_without_any()
    {
        using var logits = randn(1, 4, 6, generator: new Generator().manual_seed(1));
        using var targets = tensor(new long[] { 2, PackedDataset.IgnoredLabel, 5, PackedDataset.IgnoredLabel }).unsqueeze(0);
        using var logProbs = logits.log_softmax(-1);
        double expected = -(logProbs[0, 0, 2].item<float>() + logProbs[0, 2, 5].item<float>()) / 2;
        using var loss = TrainingObjective.MaskedCrossEntropy(logits, targets);
        Assert.Equal(expected, loss.item<float>(), 5);
        using var none = TrainingObjective.MaskedCrossEntropy(logits, full(1, 4, PackedDataset.IgnoredLabel, ScalarType.Int64));
        Assert.Equal(0f, none.item<float>());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sft_resumed_from_a_checkpoint_reproduces_the_uninterrupted_run(bool mixPretraining)
    {
        using var dir = new TempDirectory();
        string repository = Path.GetFullPath(Path.Combine(BundledModelTests.ModelDirectory(), "..", ".."));
        string[] args = ["sft", "--model", BundledModelTests.ModelDirectory(), "--data", Path.Combine(repository, "data", "sft", "sums-chat.jsonl"),
                         "--out", dir.File("run"), "--seq-len", "32", "--batch-tokens", "64", "--micro-batch", "2", "--steps", "4",
                         "--save-every", "2", "--eval-every", "2", "--no-plots", "--lr", "1e-4"];
        if (mixPretraining)
            args = [.. args, "--mix-pretrain", Path.Combine(repository, "data", "eval", "text.jsonl"), "--mix-ratio", "0.15",
                    "--token-cache", dir.File("tokens")];
        var output = new StringWriter();
        Assert.True(CliApp.Run(args, output, output) == 0, output.ToString());
        string metricsFile = dir.File(Path.Combine("run", MetricsLog.FileName));
        var uninterrupted = MetricsLog.Read(metricsFile);
        Directory.Delete(dir.File(Path.Combine("run", "checkpoints", "step-00000004")), recursive: true);
        Assert.True(CliApp.Run([.. args, "--resume"], output, output) == 0, output.ToString());
        var resumed = MetricsLog.Read(metricsFile);
        Assert.Equal(uninterrupted.Select(m => m.TotalLoss), resumed.Select(m => m.TotalLoss));
        Assert.Equal(uninterrupted.Select(m => m.ValidationLoss), resumed.Select(m => m.ValidationLoss));
        Assert.Contains("assistant tokens (trained)", output.ToString());
        if (mixPretraining)
            Assert.Matches(@"mix: \d+ pre-training windows of 33 tokens", output.ToString());
        Assert.True(File.Exists(dir.File(Path.Combine("run", "model", "tokenizer.json"))));
    }
}
