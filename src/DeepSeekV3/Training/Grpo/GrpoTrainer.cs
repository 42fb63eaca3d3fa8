using System.Diagnostics;
using DeepSeekV3.Distributed;
using DeepSeekV3.Evaluation;
using DeepSeekV3.Inference;
using DeepSeekV3.Modeling;
using DeepSeekV3.Randomness;
using DeepSeekV3.Tokenization;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Optimization;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Grpo;

/// <summary>
/// Group Relative Policy Optimization (DeepSeekMath §4; report §5.2.2), one step at a time: take the next prompts,
/// sample a group of G completions for each from the current policy (the chat template's user turn, then
/// <c>&lt;｜Assistant｜&gt;</c>), score them with <see cref="AnswerReward"/>, normalize rewards within each group
/// (<see cref="GroupAdvantages"/>), and update the policy μ times on <see cref="GrpoLoss"/> with the KL to a frozen
/// reference model. No value model: the group is the baseline. The routers' correction biases are not updated (no
/// load statistics are gathered in RL). Sampling seeds derive from (seed, step, completion), and the prompt order
/// from (seed, epoch), so a resumed run continues exactly as an uninterrupted one.
/// </summary>
public sealed class GrpoTrainer : IDisposable
{
    private readonly DeepSeekV3ForCausalLM _policy, _reference;
    private readonly ByteLevelBpeTokenizer _tokenizer;
    private readonly IReadOnlyList<EvalItem> _prompts;
    private readonly long[][] _promptTokens;
    private readonly GrpoOptions _options;
    private readonly AnswerReward _reward;
    private readonly ParallelContext _context = ParallelContext.Single();
    private readonly DataParallel _parameters;
    private readonly LearningRateSchedule _lr;
    private readonly int _eos;

    public GrpoTrainer(DeepSeekV3ForCausalLM policy, DeepSeekV3ForCausalLM reference, ByteLevelBpeTokenizer tokenizer,
        IReadOnlyList<EvalItem> prompts, GrpoOptions options, TrainerState? resumeFrom = null)
    {
        _policy = policy;
        _reference = reference;
        foreach (var p in reference.parameters()) p.requires_grad = false;
        reference.eval();
        _tokenizer = tokenizer;
        _prompts = prompts;
        _options = options;
        _reward = new AnswerReward(options.FormatReward);
        _eos = policy.Config.EosTokenId ?? throw new InvalidArgumentException("config.json: eos_token_id is needed to end completions");
        string bos = ChatTemplate.BosToken(tokenizer);
        _promptTokens = prompts.Select(p => tokenizer.Encode(ChatTemplate.Render([ChatMessage.User(p.Question)], addGenerationPrompt: true, bos))
            .Select(t => (long)t).ToArray()).ToArray();
        _parameters = new DataParallel(policy, _context);
        Optimizer = new AdamW(_parameters.OptimizerSlices, new AdamWOptions { WeightDecay = 0 });   // TRL's default: no decay
        _lr = LearningRateSchedule.Cosine(options.LearningRate, options.LearningRate, options.Steps, options.WarmupSteps);
        State = resumeFrom ?? new TrainerState { DataSeed = options.Seed };
    }

    public AdamW Optimizer { get; }
    public TrainerState State { get; private set; }

    public GrpoStepMetrics Step()
    {
        long step = State.Step;
        var clock = Stopwatch.StartNew();
        var (prompts, epoch, position) = NextPrompts(_options.PromptsPerStep);
        int g = _options.Group, rows = prompts.Length * g;

        // 1. Sample G completions per prompt from the current policy (π_old).
        var requests = new List<GenerationRequest>();
        for (int p = 0; p < prompts.Length; p++)
            for (int i = 0; i < g; i++)
                requests.Add(new GenerationRequest(_promptTokens[prompts[p]], new SamplingParams
                {
                    Temperature = _options.Temperature,
                    MaxTokens = _options.MaxNewTokens,
                    Seed = SampleSeed(step, p * g + i),
                }));
        _policy.eval();
        IReadOnlyList<GenerationResult> completions;
        using (no_grad()) completions = new GenerationEngine(_policy).Generate(requests);

        // 2. Rewards and group-normalized advantages.
        var rewards = new double[rows];
        int correct = 0, wellFormed = 0;
        string sample = "";
        for (int r = 0; r < rows; r++)
        {
            var tokens = completions[r].Tokens;
            bool eos = tokens.Length > 0 && tokens[^1] == _eos;
            string text = _tokenizer.Decode(tokens.Select(t => (int)t).ToArray(), skipSpecialTokens: true);
            string reference = _prompts[prompts[r / g]].Reference;
            rewards[r] = _reward.Score(text, eos, reference);
            correct += AnswerReward.IsCorrect(text, reference) ? 1 : 0;
            wellFormed += AnswerReward.IsWellFormed(text, eos) ? 1 : 0;
            if (r == 0) sample = $"{_prompts[prompts[0]].Question} → {text}";
        }
        var advantages = GroupAdvantages.Compute(rewards, g);

        // 3. Policy update on the clipped objective with the KL penalty.
        using var scope = NewDisposeScope();
        var (inputs, targets, mask) = Batch(prompts, completions);
        Tensor referenceLogProbs, oldLogProbs;
        using (no_grad())
        {
            referenceLogProbs = InChunks(rows, range => TokenLogProbs(_reference, inputs[range], targets[range]));
            // With one update per batch π_old is the policy itself (its log-probabilities detached below).
            oldLogProbs = _options.Iterations > 1 ? InChunks(rows, range => TokenLogProbs(_policy, inputs[range], targets[range])) : empty(0);
        }
        var advantage = tensor(advantages.Select(a => (float)a).ToArray());
        _policy.train();
        double loss = 0, kl = 0, clipped = 0, norm = 0, lr = _lr.At(step);
        for (int iteration = 0; iteration < _options.Iterations; iteration++)
        {
            _policy.zero_grad();
            double iterationLoss = 0, iterationKl = 0, iterationClipped = 0;
            for (int start = 0; start < rows; start += _options.MicroBatch)
            {
                using var micro = NewDisposeScope();
                var range = TensorIndex.Slice(start, Math.Min(rows, start + _options.MicroBatch));
                double share = (double)(Math.Min(rows, start + _options.MicroBatch) - start) / rows;
                var logProbs = TokenLogProbs(_policy, inputs[range], targets[range]);
                var old = _options.Iterations > 1 ? oldLogProbs[range] : logProbs.detach();
                using var parts = GrpoLoss.Compute(logProbs, old, referenceLogProbs[range], advantage[range], mask[range],
                    _options.Clip, _options.Beta);
                (parts.Loss * share).backward();
                iterationLoss += parts.Loss.item<float>() * share;
                iterationKl += parts.Kl * share;
                iterationClipped += parts.ClippedShare * share;
            }
            norm = _parameters.GradientNorm();
            double factor = GradientClipping.Factor(norm, _options.GradientClip);
            if (factor != 1) _parameters.ScaleGradients(factor);
            if (double.IsFinite(iterationLoss) && double.IsFinite(norm))
            {
                Optimizer.Step(lr);
                _parameters.GatherParameters();
            }
            if (iteration == 0) (loss, kl, clipped) = (iterationLoss, iterationKl, iterationClipped);
        }
        _policy.zero_grad();

        State = State with { Step = step + 1, OptimizerSteps = Optimizer.StepCount, DataEpoch = epoch, DataPosition = position,
                             TokensSeen = State.TokensSeen + completions.Sum(c => (long)c.Tokens.Length) };
        double mean = rewards.Average();
        return new GrpoStepMetrics
        {
            Step = step + 1,
            Reward = mean,
            RewardStd = Math.Sqrt(rewards.Sum(r => (r - mean) * (r - mean)) / rows),
            Accuracy = (double)correct / rows,
            WellFormed = (double)wellFormed / rows,
            Kl = kl,
            CompletionLength = completions.Average(c => c.Tokens.Length),
            ClippedShare = clipped,
            Loss = loss,
            GradNorm = norm,
            LearningRate = lr,
            Seconds = clock.Elapsed.TotalSeconds,
            Sample = sample,
        };
    }

    /// <summary>log π(target | inputs before it) of every position: [rows, width] (caller's scope owns it).</summary>
    public static Tensor TokenLogProbs(DeepSeekV3ForCausalLM model, Tensor inputs, Tensor targets)
    {
        var logits = model.Forward(inputs, new ForwardContext { Mode = AttentionMode.Naive }).Logits.to(ScalarType.Float32);
        return logits.log_softmax(-1).gather(2, targets.unsqueeze(2)).squeeze(2);
    }

    /// <summary>Rows prompt + completion, right-padded: inputs and targets shifted by one, [rows, width], and the mask
    /// that is 1 where the target is a completion token.</summary>
    private (Tensor Inputs, Tensor Targets, Tensor Mask) Batch(int[] prompts, IReadOnlyList<GenerationResult> completions)
    {
        int rows = completions.Count, g = _options.Group;
        int width = Enumerable.Range(0, rows).Max(r => _promptTokens[prompts[r / g]].Length + completions[r].Tokens.Length) - 1;
        var inputs = new long[rows * width];
        var targets = new long[rows * width];
        var mask = new float[rows * width];
        for (int r = 0; r < rows; r++)
        {
            long[] prompt = _promptTokens[prompts[r / g]];
            long[] all = [.. prompt, .. completions[r].Tokens];
            for (int p = 0; p < all.Length - 1; p++)
            {
                inputs[r * width + p] = all[p];
                targets[r * width + p] = all[p + 1];
                mask[r * width + p] = p + 1 >= prompt.Length ? 1 : 0;
            }
        }
        return (tensor(inputs, [rows, width]), tensor(targets, [rows, width]), tensor(mask, [rows, width]));
    }

    private Tensor InChunks(int rows, Func<TensorIndex, Tensor> run)
    {
        var parts = new List<Tensor>();
        for (int start = 0; start < rows; start += _options.MicroBatch)
            parts.Add(run(TensorIndex.Slice(start, Math.Min(rows, start + _options.MicroBatch))));
        return cat(parts, 0);
    }

    /// <summary>The next prompts of a seeded permutation per epoch, continuing from the state's position.</summary>
    private (int[] Prompts, long Epoch, long Position) NextPrompts(int count)
    {
        long epoch = State.DataEpoch, position = State.DataPosition;
        var chosen = new int[count];
        long[] order = SplitMix64.Permutation(_prompts.Count, _options.Seed, 0x4752504F + epoch);
        for (int i = 0; i < count; i++)
        {
            if (position >= _prompts.Count)
            {
                epoch++;
                position = 0;
                order = SplitMix64.Permutation(_prompts.Count, _options.Seed, 0x4752504F + epoch);
            }
            chosen[i] = (int)order[position++];
        }
        return (chosen, epoch, position);
    }

    private long SampleSeed(long step, int completion) => (long)new SplitMix64(_options.Seed, step * 1_000_003 + completion).Next();

    public string SaveCheckpoint(string runDirectory) =>
        TrainingCheckpoint.Save(runDirectory, _policy, Optimizer, State, _options.KeepLast, parallel: _context);

    public void Dispose()
    {
        Optimizer.Dispose();
        _parameters.Dispose();
        _context.Dispose();
    }
}
