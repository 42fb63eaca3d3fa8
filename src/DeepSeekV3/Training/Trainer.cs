using System.Diagnostics;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Objectives;
using DeepSeekV3.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Training;

/// <summary>
/// The pre-training loop (report §4): for each step, gradient accumulation over micro-batches of packed windows,
/// loss = next-token CE + λ·MTP + α·balance, global-norm clipping, AdamW, then the auxiliary-loss-free bias update
/// from the step's expert loads. A step whose loss or gradient norm is not finite changes nothing (weights,
/// moments, biases) and is counted. The trainer owns neither the model nor the dataset; it owns the optimizer.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly DeepSeekV3ForCausalLM _model;
    private readonly PackedDataset _data;
    private readonly DataCursor _cursor;
    private readonly TrainingObjective _objective;
    private readonly LearningRateSchedule _lr;
    private readonly BatchSizeSchedule _batch;
    private readonly StepSchedule _mtpWeight, _biasSpeed;
    private readonly double _flopsPerToken;

    public Trainer(DeepSeekV3ForCausalLM model, PackedDataset data, TrainerOptions options, AdamW? optimizer = null,
        TrainerState? resumeFrom = null, double peakFlops = 0)
    {
        _model = model;
        _data = data;
        Options = options;
        _objective = new TrainingObjective(model, options.Objective);
        Optimizer = optimizer ?? AdamW.For(model, options.Adam);
        _lr = options.LearningRate();
        _batch = options.BatchSize();
        _mtpWeight = options.MtpWeights();
        _biasSpeed = options.BiasSpeeds();
        _flopsPerToken = TrainingFlops.PerToken(model.Config, data.SequenceLength, _objective.MtpDepth);
        PeakFlops = peakFlops;
        State = resumeFrom ?? new TrainerState
        {
            DataSeed = options.Seed,
            Balance = options.Objective.Balance.ToString(),
            SequenceLength = data.SequenceLength,
        };
        if (resumeFrom is not null && resumeFrom.SequenceLength != data.SequenceLength)
            throw new InvalidArgumentException(
                $"--seq-len {data.SequenceLength}: the checkpoint was trained with {resumeFrom.SequenceLength}");
        _cursor = new DataCursor(data, State.DataSeed, State.DataEpoch, State.DataPosition);
        _model.train();
    }

    public TrainerOptions Options { get; }
    public AdamW Optimizer { get; }
    public TrainerState State { get; private set; }

    /// <summary>Measured peak FLOP/s of the machine (0: MFU not reported). On a shared machine the caller may raise
    /// it as later measurements find more headroom.</summary>
    public double PeakFlops { get; set; }

    /// <summary>Test hook: runs after backward, before clipping (e.g. to poison a gradient).</summary>
    internal Action<DeepSeekV3ForCausalLM, long>? AfterBackward { get; init; }

    /// <summary>Runs one optimizer step and returns its metrics.</summary>
    public StepMetrics Step()
    {
        long step = State.Step;
        var clock = Stopwatch.StartNew();
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        int sequences = _batch.At(step);
        double lr = _lr.At(step), lambda = _mtpWeight.At(step), gamma = _biasSpeed.At(step);
        var loads = new SortedDictionary<int, ExpertLoad>();
        double main = 0, mtp = 0, balance = 0, total = 0;

        _model.zero_grad();
        for (int done = 0; done < sequences;)
        {
            int micro = Math.Min(Options.MicroBatchSequences, sequences - done);
            using var scope = NewDisposeScope();
            using var trace = new RoutingTrace();
            var windows = _data.Batch(_cursor.Next(micro), validation: false);
            double share = (double)micro / sequences;
            using var parts = _objective.Compute(windows, lambda, share, trace);
            parts.Total.backward();
            foreach (var (layer, route) in trace.Records)
            {
                if (!loads.TryGetValue(layer, out var load))
                    loads[layer] = load = new ExpertLoad(layer, (int)route.Scores.shape[1]);
                load.Add(route.Indices);
            }
            main += parts.Main.item<float>() * share;
            mtp += parts.Mtp.item<float>() * share;
            balance += parts.Balance.item<float>() * share;
            total += parts.Total.item<float>();
            done += micro;
        }
        AfterBackward?.Invoke(_model, step);

        double norm = GradientClipping.ClipByGlobalNorm(_model.parameters(), Options.GradientClip);
        bool skipped = !double.IsFinite(total) || !double.IsFinite(norm);
        if (!skipped)
        {
            Optimizer.Step(lr);
            BiasUpdate.Apply(_model, loads.Values, gamma);                                 // after the step, §2.1.2
        }
        _model.zero_grad();

        long tokens = (long)sequences * _data.SequenceLength;
        State = State with
        {
            Step = step + 1,
            OptimizerSteps = Optimizer.StepCount,
            DataEpoch = _cursor.Epoch,
            DataPosition = _cursor.Position,
            TokensSeen = State.TokensSeen + tokens,
            SkippedSteps = State.SkippedSteps + (skipped ? 1 : 0),
        };
        double seconds = clock.Elapsed.TotalSeconds;
        double tokensPerSecond = tokens / seconds;
        return new StepMetrics
        {
            Step = step + 1,
            Loss = main,
            MtpLoss = mtp,
            BalanceLoss = balance,
            TotalLoss = total,
            LearningRate = lr,
            MtpWeight = lambda,
            BiasSpeed = gamma,
            GradNorm = norm,
            Skipped = skipped,
            SkippedTotal = State.SkippedSteps,
            BatchSequences = sequences,
            Tokens = tokens,
            TokensSeen = State.TokensSeen,
            Seconds = seconds,
            TokensPerSecond = tokensPerSecond,
            CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds,
            Mfu = PeakFlops > 0 ? tokensPerSecond * _flopsPerToken / PeakFlops : 0,
            MaxVio = loads.Count == 0 ? 0 : loads.Values.Max(l => l.MaxVio),
            MaxVioByLayer = loads.ToDictionary(l => l.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), l => l.Value.MaxVio),
            ExpertLoad = loads.ToDictionary(l => l.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), l => l.Value.Fractions()),
        };
    }

    /// <summary>Mean next-token cross-entropy over the first validation windows (no MTP, no balance terms); null when
    /// there is nothing to evaluate (no validation windows, or --eval-windows 0).</summary>
    public double? Evaluate()
    {
        long count = Math.Min(Options.EvalWindows, _data.ValidationWindows);
        if (count <= 0) return null;
        using var _ = no_grad();
        _model.eval();
        double sum = 0;
        for (long start = 0; start < count; start += Options.MicroBatchSequences)
        {
            using var scope = NewDisposeScope();
            var ids = Enumerable.Range(0, (int)Math.Min(Options.MicroBatchSequences, count - start)).Select(i => start + i).ToList();
            var windows = _data.Batch(ids, validation: true);
            long length = windows.shape[1] - 1;
            var output = _model.Forward(windows.narrow(1, 0, length), new ForwardContext { Mode = AttentionMode.Naive });
            sum += TrainingObjective.CrossEntropy(output.Logits, windows.narrow(1, 1, length)).item<float>() * ids.Count;
        }
        _model.train();
        return sum / count;
    }

    /// <summary>Saves a checkpoint of the current state into <paramref name="runDirectory"/>.</summary>
    public string SaveCheckpoint(string runDirectory, Action<string>? beforeCommit = null) =>
        TrainingCheckpoint.Save(runDirectory, _model, Optimizer, State, Options.KeepLast, beforeCommit);

    public void Dispose() => Optimizer.Dispose();
}
