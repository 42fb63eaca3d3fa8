using System.Diagnostics;
using DeepSeekV3.Distributed;
using DeepSeekV3.Distributed.Pipeline;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Objectives;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Pipeline;

/// <summary>
/// Runs one rank's pipeline program for one optimizer step: each forward takes its stage's input (the tokens'
/// embedding on the first stage, else the activation the previous stage sent), runs the stage's blocks and either
/// sends the output on or, on the last stage, computes the losses; each backward takes the gradient of its output
/// (from the next stage, or the loss itself), back-propagates through the stage and sends the input's gradient back.
/// Activations and gradients travel point to point with non-blocking sends and a receive right where the op needs
/// them, which cannot deadlock as long as the program respects the data dependencies (every schedule we generate
/// does; the simulator checks it). When consecutive stages of a micro-batch sit on the same rank (the bottom of
/// DualPipeV's V) the tensor is handed over in memory. A backward marked to defer its weight gradients leaves them in
/// the <see cref="WeightGradientQueue"/> until a <c>W</c> op; whatever is still queued runs at the end.
/// </summary>
public sealed class PipelineExecutor
{
    private readonly DeepSeekV3ForCausalLM _model;
    private readonly TrainingObjective _objective;
    private readonly ICommunicator _pipeline;
    private readonly Func<int, IReadOnlyList<PipelineOp>> _program;
    private readonly Stopwatch _communication = new();

    public PipelineExecutor(DeepSeekV3ForCausalLM model, TrainingObjective objective, PipelineStageMap map,
        ICommunicator pipeline, Func<int, IReadOnlyList<PipelineOp>> program)
    {
        if (pipeline.Size != map.Ranks)
            throw new InvalidArgumentException($"a pipeline of {map.Ranks} stages' ranks got a communicator of {pipeline.Size}");
        _model = model;
        _objective = objective;
        Map = map;
        _pipeline = pipeline;
        _program = program;
        foreach (var projection in model.modules().OfType<Projection>())
            projection.WeightGradients = WeightGradients;
    }

    public PipelineStageMap Map { get; }
    public WeightGradientQueue WeightGradients { get; } = new();

    /// <summary>Time spent waiting for activations and gradients since construction.</summary>
    public TimeSpan CommunicationTime => _communication.Elapsed;

    /// <summary>
    /// Runs this rank's program for <paramref name="microBatches"/>.Count micro-batches (this pipeline's share of the
    /// step in one-process order, [b, T + 1] windows each; <paramref name="program"/> gives the program for a count)
    /// and returns this rank's part of the share-weighted losses: main and MTP from the last stage, the balance loss
    /// of its own routers.
    /// </summary>
    public PipelineLosses Run(IReadOnlyList<Tensor> microBatches, IReadOnlyList<double> shares, double mtpWeight,
        Action<RoutingTrace> routed)
    {
        var step = new StepState(this, microBatches, shares, mtpWeight, routed);
        foreach (var op in _program(microBatches.Count))
        {
            switch (op)
            {
                case WeightStepOp:
                    WeightGradients.RunNext();
                    break;
                case ForwardOp f:
                    step.Forward(f.Direction, f.MicroBatch);
                    break;
                case BackwardOp b:
                    step.Backward(b.Direction, b.MicroBatch, b.DeferWeightGrad);
                    break;
                case OverlappedOp pair:                                                      // on a CPU: one, then the other
                    step.Forward(pair.Forward.Direction, pair.Forward.MicroBatch);
                    step.Backward(pair.Backward.Direction, pair.Backward.MicroBatch, pair.Backward.DeferWeightGrad);
                    break;
                default:
                    throw new InvalidOperationException($"unknown pipeline op {op}");
            }
        }
        WeightGradients.RunAll();
        step.Finish();
        return step.Losses;
    }

    /// <summary>
    /// The next-token cross-entropy of <paramref name="windows"/> [b, T + 1] without gradients, the batch walking the
    /// stages in order (first flow); the rank holding the last stage returns it, the others null. Every rank of the
    /// pipeline calls this for the same batch.
    /// </summary>
    public double? Evaluate(Tensor windows)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int rank = _pipeline.Rank;
        long[] shape = [windows.shape[0], windows.shape[1] - 1, _model.Config.HiddenSize];
        var context = new ForwardContext { Mode = AttentionMode.Naive };
        Tensor? h = null;
        double? loss = null;
        var sends = new List<ICommRequest>();
        for (int stage = 0; stage < Map.Stages; stage++)
        {
            if (Map.RankOf(stage, 0) != rank) continue;
            if (stage == 0)
                h = _model.Model.EmbedTokens.forward(TrainingObjective.Inputs(windows));
            else if (Map.RankOf(stage - 1, 0) != rank)
            {
                h = empty(shape, ScalarType.Float32);
                Timed(() => _pipeline.Receive(NativeBuffer<float>.Of(h).AsSpan(), Map.RankOf(stage - 1, 0), stage));
            }
            var (first, last) = Map.BlocksOf(stage);
            h = _model.Model.Run(h!, first, last, context);
            if (stage == Map.Stages - 1)
                loss = TrainingObjective.CrossEntropy(_model.Head(h).Logits, windows.narrow(1, 1, shape[1])).item<float>();
            else if (Map.RankOf(stage + 1, 0) != rank)
                sends.Add(_pipeline.SendAsync(NativeBuffer<float>.Of(h = h.contiguous()), Map.RankOf(stage + 1, 0), stage + 1));
        }
        Timed(() => sends.ForEach(r => { r.Wait(); r.Dispose(); }));
        return loss;
    }

    private void Timed(Action action)
    {
        _communication.Start();
        try { action(); }
        finally { _communication.Stop(); }
    }

    /// <summary>One step's chunks in flight, the sends not yet complete and the handed-over tensors.</summary>
    private sealed class StepState(PipelineExecutor owner, IReadOnlyList<Tensor> microBatches, IReadOnlyList<double> shares,
        double mtpWeight, Action<RoutingTrace> routed)
    {
        private readonly Dictionary<(int MicroBatch, int Stage), Chunk> _chunks = [];
        private readonly Dictionary<(int MicroBatch, int Stage, bool Backward), Tensor> _handedOver = [];
        private readonly List<(ICommRequest Request, Tensor Data)> _sends = [];
        private readonly PipelineStageMap _map = owner.Map;
        private readonly int _rank = owner._pipeline.Rank;

        public PipelineLosses Losses { get; private set; } = new(0, 0, 0, 0);

        public void Forward(PipelineDirection direction, int microBatch)
        {
            int flow = _map.FlowOf(direction), stage = _map.StageOf(_rank, direction);
            int index = _map.MicroBatchOf(direction, microBatch, microBatches.Count);
            var windows = microBatches[index];
            double share = shares[index];
            using var scope = NewDisposeScope();
            using var trace = new RoutingTrace();
            var context = owner._objective.Context(windows, share, trace);
            Tensor? input = null;
            Tensor h;
            if (stage == 0)
                h = owner._model.Model.EmbedTokens.forward(TrainingObjective.Inputs(windows));
            else
                h = input = Take(index, stage - 1, backward: false, from: _map.RankOf(stage - 1, flow), Shape(windows)).requires_grad_(true);
            var (first, last) = _map.BlocksOf(stage);
            h = owner._model.Model.Run(h, first, last, context);

            Tensor main = zeros([]), mtp = zeros([]);
            bool isLast = stage == _map.Stages - 1;
            if (isLast)
                (main, mtp) = owner._objective.HeadLosses(h, windows, context);
            var balance = owner._objective.Balance(trace, windows);
            var loss = owner._objective.Combine(main, mtp, balance, mtpWeight, share);
            routed(trace);
            Losses = Losses.Add(main.item<float>() * share, mtp.item<float>() * share, balance.item<float>() * share, loss.item<float>());
            if (!isLast)
                Give(index, stage, backward: false, to: _map.RankOf(stage + 1, flow), h);
            _chunks[(index, stage)] = new Chunk(
                input?.MoveToOuterDisposeScope(), isLast ? null : h.MoveToOuterDisposeScope(), loss.MoveToOuterDisposeScope());
        }

        public void Backward(PipelineDirection direction, int microBatch, bool deferWeights)
        {
            int flow = _map.FlowOf(direction), stage = _map.StageOf(_rank, direction);
            int index = _map.MicroBatchOf(direction, microBatch, microBatches.Count);
            if (!_chunks.Remove((index, stage), out var chunk))
                throw new InvalidOperationException($"backward of micro-batch {index} stage {stage} before its forward");
            using var scope = NewDisposeScope();
            owner.WeightGradients.Deferring = deferWeights;
            try
            {
                // The stage's own losses (its routers' balance term; on the last stage everything) plus, for the
                // output that went on, Σ output ⊙ dL/doutput: one backward gives both contributions.
                var objective = chunk.Loss;
                if (chunk.Output is { } output)
                {
                    var grad = Take(index, stage + 1, backward: true, from: _map.RankOf(stage + 1, flow), output.shape);
                    objective = objective + (output * grad).sum();
                }
                objective.backward();
            }
            finally
            {
                owner.WeightGradients.Deferring = false;
            }
            if (deferWeights) owner.WeightGradients.Seal();
            if (chunk.Input is { } input)
                Give(index, stage, backward: true, to: _map.RankOf(stage - 1, flow), input.grad!);
            chunk.Dispose();
        }

        /// <summary>Waits for the last sends.</summary>
        public void Finish()
        {
            owner._communication.Start();
            try
            {
                foreach (var (request, data) in _sends)
                {
                    request.Wait();
                    request.Dispose();
                    data.Dispose();
                }
            }
            finally { owner._communication.Stop(); }
            _sends.Clear();
            if (_chunks.Count > 0 || _handedOver.Count > 0)
                throw new InvalidOperationException($"the pipeline program left {_chunks.Count} chunk(s) without backward");
        }

        private long[] Shape(Tensor windows) => [windows.shape[0], windows.shape[1] - 1, owner._model.Config.HiddenSize];

        /// <summary>The tensor <paramref name="stage"/> produced for micro-batch <paramref name="index"/>: its activation
        /// (forward) or the gradient of its input (backward), in memory or received from <paramref name="from"/>.</summary>
        private Tensor Take(int index, int stage, bool backward, int from, long[] shape)
        {
            if (from == _rank)
                return _handedOver.Remove((index, stage, backward), out var local)
                    ? local
                    : throw new InvalidOperationException($"micro-batch {index}: stage {stage}'s {(backward ? "gradient" : "activation")} is not here yet");
            var buffer = empty(shape, ScalarType.Float32);
            owner._communication.Start();
            try { owner._pipeline.Receive(NativeBuffer<float>.Of(buffer).AsSpan(), from, Tag(index, stage, backward)); }
            finally { owner._communication.Stop(); }
            return buffer;
        }

        private void Give(int index, int stage, bool backward, int to, Tensor data)
        {
            var payload = data.detach().to(ScalarType.Float32).contiguous().clone().DetachFromDisposeScope();
            if (to == _rank)
            {
                _handedOver[(index, stage, backward)] = payload;
                return;
            }
            _sends.Add((owner._pipeline.SendAsync(NativeBuffer<float>.Of(payload), to, Tag(index, stage, backward)), payload));
        }

        // Unique per (micro-batch, stage boundary, direction of travel); well inside MPI's guaranteed 32767.
        private int Tag(int index, int stage, bool backward) => (index * _map.Stages + stage) * 2 + (backward ? 1 : 0);
    }

    private sealed record Chunk(Tensor? Input, Tensor? Output, Tensor Loss) : IDisposable
    {
        public void Dispose()
        {
            Input?.Dispose();
            Output?.Dispose();
            Loss.Dispose();
        }
    }
}

/// <summary>A rank's part of one step's share-weighted losses (summed over ranks they give the step's).</summary>
public readonly record struct PipelineLosses(double Main, double Mtp, double Balance, double Total)
{
    public PipelineLosses Add(double main, double mtp, double balance, double total) =>
        new(Main + main, Mtp + mtp, Balance + balance, Total + total);
}
