using System.Diagnostics;
using DeepSeekV3.Distributed;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Metrics;
using DeepSeekV3.Training.Objectives;
using DeepSeekV3.Training.Optimization;
using DeepSeekV3.Training.Pipeline;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Training;

/// <summary>
/// The pre-training loop (report §4): for each step, gradient accumulation over micro-batches of packed windows,
/// loss = next-token CE + λ·MTP + α·balance, global-norm clipping, AdamW, then the auxiliary-loss-free bias update
/// from the step's expert loads. A step whose loss or gradient norm is not finite changes nothing (weights,
/// moments, biases) and is counted. The trainer owns neither the model nor the dataset; it owns the optimizer.
/// Under data parallelism (<see cref="DataParallel"/>) every rank runs this loop in step: each takes its contiguous
/// share of the same global batch, gradients are summed over the ranks, each rank updates its ZeRO-1 share of the
/// parameters, and losses and expert loads are summed, so every rank sees the one-process step.
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

    private readonly DataParallel _parallel;
    private readonly ParallelContext? _ownedContext;

    /// <summary>Without <paramref name="parallel"/>, one process; with it, the optimizer (if given) must be built over
    /// its <see cref="DataParallel.OptimizerSlices"/>.</summary>
    public Trainer(DeepSeekV3ForCausalLM model, PackedDataset data, TrainerOptions options, AdamW? optimizer = null,
        TrainerState? resumeFrom = null, double peakFlops = 0, DataParallel? parallel = null)
    {
        _model = model;
        _data = data;
        Options = options;
        if (parallel is null) _ownedContext = ParallelContext.Single();
        _parallel = parallel ?? new DataParallel(model, _ownedContext!);
        _objective = new TrainingObjective(model, options.Objective);
        Optimizer = optimizer ?? new AdamW(_parallel.OptimizerSlices, options.Adam);
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
        _model.SetPrecision(options.Precision, options.Fp8);
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

    public DataParallel Parallel => _parallel;

    /// <summary>Pipeline parallelism: this rank runs the stages its schedule gives it (null: the whole model).</summary>
    public PipelineSetup? Pipeline { get; init; }

    private PipelineExecutor? _executor;

    private PipelineExecutor? Executor => Pipeline is null ? null
        : _executor ??= new PipelineExecutor(_model, _objective, Pipeline.Map, Pipeline.Group, Pipeline.Program);

    /// <summary>The expert-parallel dispatch and combine's timer, reported with each step (null without expert
    /// parallelism).</summary>
    public CommunicationTimer? ExpertCommunication { get; init; }

    /// <summary>Runs one optimizer step and returns its metrics.</summary>
    public StepMetrics Step()
    {
        long step = State.Step;
        var clock = Stopwatch.StartNew();
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var commStart = CommunicationTime;
        double dispatchStart = ExpertCommunication?.BlockedSeconds ?? 0;
        int sequences = _batch.At(step);
        double lr = _lr.At(step), lambda = _mtpWeight.At(step), gamma = _biasSpeed.At(step);
        var loads = new SortedDictionary<int, ExpertLoad>();
        double main = 0, mtp = 0, balance = 0, total = 0;

        // The same global batch on every rank, in one-process order; this rank takes its contiguous share.
        long[] batch = _cursor.Next(sequences);
        var (first, count) = ShareOf(sequences, step);
        _model.zero_grad();
        void Record(RoutingTrace trace)
        {
            foreach (var (layer, route) in trace.Records)
            {
                if (!loads.TryGetValue(layer, out var load))
                    loads[layer] = load = new ExpertLoad(layer, (int)route.Scores.shape[1]);
                load.Add(route.Indices);
            }
        }
        if (Executor is { } pipeline)
        {
            if (_data.HasLossMask)
                throw new InvalidArgumentException("fine-tuning (loss on assistant tokens only) does not run on a pipeline yet; drop --pp");
            // The share in micro-batches of --micro-batch sequences; every stage sees all of them.
            using var scope = NewDisposeScope();
            var micro = new List<Tensor>();
            var shares = new List<double>();
            for (int done = 0; done < count; done += Options.MicroBatchSequences)
            {
                int size = Math.Min(Options.MicroBatchSequences, count - done);
                micro.Add(_data.Batch(batch.AsSpan(first + done, size).ToArray(), validation: false));
                shares.Add((double)size / sequences);
            }
            var losses = pipeline.Run(micro, shares, lambda, Record);
            (main, mtp, balance, total) = (losses.Main, losses.Mtp, losses.Balance, losses.Total);
        }
        else
        {
            for (int done = 0; done < count;)
            {
                int micro = Math.Min(Options.MicroBatchSequences, count - done);
                using var scope = NewDisposeScope();
                using var trace = new RoutingTrace();
                var ids = batch.AsSpan(first + done, micro).ToArray();
                var windows = _data.Batch(ids, validation: false);
                double share = (double)micro / sequences;
                using var parts = _objective.Compute(windows, lambda, share, trace, _data.Labels(ids, validation: false),
                                                     _data.Segments(ids, validation: false));
                parts.Total.backward();
                Record(trace);
                main += parts.Main.item<float>() * share;
                mtp += parts.Mtp.item<float>() * share;
                balance += parts.Balance.item<float>() * share;
                total += parts.Total.item<float>();
                done += micro;
            }
        }
        _parallel.SynchronizeGradients();
        AfterBackward?.Invoke(_model, step);
        double[] sums = [main, mtp, balance, total];
        _parallel.SumOverWorld<double>(sums);
        (main, mtp, balance, total) = (sums[0], sums[1], sums[2], sums[3]);
        SumLoads(loads);

        double norm = _parallel.GradientNorm();
        double clip = GradientClipping.Factor(norm, Options.GradientClip);
        if (clip != 1) _parallel.ScaleGradients(clip);
        bool skipped = !double.IsFinite(total) || !double.IsFinite(norm);
        if (!skipped)
        {
            Optimizer.Step(lr);
            _parallel.GatherParameters();
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
            Ranks = _parallel.Context.World.Size,
            CommunicationSeconds = (CommunicationTime - commStart).TotalSeconds,
            DispatchSeconds = (ExpertCommunication?.BlockedSeconds ?? 0) - dispatchStart,
            CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds,
            Mfu = PeakFlops > 0 ? tokensPerSecond * _flopsPerToken / PeakFlops : 0,
            MaxVio = loads.Count == 0 ? 0 : loads.Values.Max(l => l.MaxVio),
            MaxVioByLayer = loads.ToDictionary(l => l.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), l => l.Value.MaxVio),
            ExpertLoad = loads.ToDictionary(l => l.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), l => l.Value.Fractions()),
        };
    }

    private TimeSpan CommunicationTime => _parallel.CommunicationTime + TimeSpan.FromSeconds(ExpertCommunication?.BlockedSeconds ?? 0)
        + (_executor?.CommunicationTime ?? TimeSpan.Zero);

    /// <summary>This rank's data-parallel replica and their number (under a pipeline the P ranks of one pipeline
    /// share a replica; the context's layout already counts replicas, not ranks).</summary>
    private (int Index, int Count) Replica => (_parallel.Context.Layout.Rank, _parallel.Context.Layout.WorldSize);

    /// <summary>This rank's share [first, first + count) of a global batch of <paramref name="sequences"/>. Under
    /// expert parallelism every rank must run the same number of forward passes (each one's dispatch is a
    /// collective), so the batch must split evenly.</summary>
    private (int First, int Count) ShareOf(int sequences, long step)
    {
        var layout = _parallel.Context.Layout;
        var (r, n) = Replica;
        if (layout.ExpertParallel > 1 && sequences % n != 0)
            throw new InvalidArgumentException(
                $"step {step + 1}: a batch of {sequences} sequences does not split evenly over {n} ranks, which expert parallelism " +
                $"needs (every rank runs the same micro-batches): give --batch-tokens a multiple of {n} × --seq-len, with --no-batch-ramp");
        int first = (int)((long)sequences * r / n), next = (int)((long)sequences * (r + 1) / n);
        return (first, next - first);
    }

    /// <summary>Expert loads summed over all ranks: the bias update must see the global batch's loads, so every
    /// rank moves its biases the same way.</summary>
    private void SumLoads(SortedDictionary<int, ExpertLoad> loads)
    {
        if (_parallel.Context.World.Size == 1) return;
        var layers = _model.Model.Layers.Select((layer, index) => (layer, index)).Where(l => l.layer.Moe is not null).ToList();
        int experts = _model.Config.NRoutedExperts;
        long[] counts = new long[layers.Count * experts];
        for (int i = 0; i < layers.Count; i++)
            if (loads.TryGetValue(layers[i].index, out var load))
                load.Counts.CopyTo(counts, i * experts);
        _parallel.SumOverWorld<long>(counts);
        for (int i = 0; i < layers.Count; i++)
        {
            var sum = counts.AsSpan(i * experts, experts);
            if (!loads.TryGetValue(layers[i].index, out var load))
            {
                if (!sum.ContainsAnyExcept(0L)) continue;                                   // a layer no rank routed through
                loads[layers[i].index] = load = new ExpertLoad(layers[i].index, experts);
            }
            sum.CopyTo(load.Counts);
        }
    }

    /// <summary>Mean next-token cross-entropy over the first validation windows (no MTP, no balance terms); null when
    /// there is nothing to evaluate (no validation windows, or --eval-windows 0).</summary>
    public double? Evaluate()
    {
        long count = Math.Min(Options.EvalWindows, _data.ValidationWindows);
        if (count <= 0) return null;
        using var _ = no_grad();
        _model.eval();
        var layout = _parallel.Context.Layout;
        var (replica, replicas) = Replica;
        long first = count * replica / replicas, next = count * (replica + 1) / replicas;
        // Under expert parallelism each forward pass is a collective: every rank runs as many as the largest share
        // needs, a rank past its share on a stand-in window whose loss is not counted.
        int micro = Options.MicroBatchSequences;
        long largest = (count + replicas - 1) / replicas;
        long passes = layout.ExpertParallel > 1 ? (largest + micro - 1) / micro : (next - first + micro - 1) / micro;
        double[] sum = [0];
        for (long pass = 0; pass < passes; pass++)
        {
            using var scope = NewDisposeScope();
            long start = first + pass * micro;
            int real = (int)Math.Clamp(next - start, 0, micro);
            var ids = real > 0 ? Enumerable.Range(0, real).Select(i => start + i).ToList() : [0L];
            var windows = _data.Batch(ids, validation: true);
            long length = windows.shape[1] - 1;
            if (Executor is { } pipeline)
            {
                if (pipeline.Evaluate(windows) is { } loss)                                // the last stage's rank
                    sum[0] += loss * real;
                continue;
            }
            var segments = _data.Segments(ids, validation: true);
            var output = _model.Forward(windows.narrow(1, 0, length),
                new ForwardContext { Mode = AttentionMode.Naive, Segments = segments?.narrow(1, 0, length) });
            if (real > 0)
            {
                var loss = _data.Labels(ids, validation: true) is { } labels
                    ? TrainingObjective.MaskedCrossEntropy(output.Logits, labels.narrow(1, 1, length))
                    : TrainingObjective.CrossEntropy(output.Logits, windows.narrow(1, 1, length));
                sum[0] += loss.item<float>() * real;
            }
        }
        _parallel.SumOverWorld<double>(sum);
        _model.train();
        return sum[0] / count;
    }

    /// <summary>Saves a checkpoint of the current state into <paramref name="runDirectory"/>.</summary>
    public string SaveCheckpoint(string runDirectory, Action<string>? beforeCommit = null) =>
        TrainingCheckpoint.Save(runDirectory, _model, Optimizer, State, Options.KeepLast, beforeCommit, _parallel.Context, Pipeline?.Map);

    public void Dispose()
    {
        Optimizer.Dispose();
        if (_ownedContext is not null)
        {
            _parallel.Dispose();
            _ownedContext.Dispose();
        }
    }
}
