using System.Diagnostics;
using DeepSeekV3.Distributed;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Optimization;
using DeepSeekV3.Training.Pipeline;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Training;

/// <summary>
/// Data parallelism with ZeRO-1 (Rajbhandari et al. 2020, stage 1) for one rank of a <see cref="ParallelContext"/>.
/// Parameters fall in two groups: dense ones (attention, dense MLPs, shared experts, norms, embedding, head),
/// replicated on every rank of the world, and routed experts, replicated on the ranks that hold the same expert
/// shard (the expert-data-parallel group; with expert parallelism off, the world again). Within a group:
/// <list type="bullet">
/// <item>gradients are summed over the replicas in buckets of the group's flattened parameters (each rank's loss is
///   already weighted by its share of the global batch, so the sum is the one-process gradient);</item>
/// <item>the flattened parameters are cut into one contiguous share per replica, and this rank's AdamW holds moments
///   for its share only (<see cref="OptimizerSlices"/>); after the update the shares are all-gathered.</item>
/// </list>
/// A parameter that had no gradient on any replica (an expert no token chose) keeps none, as in one process.
/// With one rank every share is the whole model and nothing travels.
/// </summary>
public sealed class DataParallel : IDisposable
{
    private readonly ParallelContext _context;
    private readonly List<Group> _groups = [];
    private readonly Stopwatch _communication = new();

    public DataParallel(DeepSeekV3ForCausalLM model, ParallelContext context, long bucketElements = 1 << 22)
    {
        _context = context;
        BucketElements = bucketElements;
        var named = model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        var dense = named.Where(p => !ExpertParallel.IsRoutedExpertParameter(p.name)).ToList();
        var experts = named.Where(p => ExpertParallel.IsRoutedExpertParameter(p.name)).ToList();
        _groups.Add(new Group("dense", dense, context.World, spread: null));
        if (experts.Count > 0 || context.Layout.ExpertParallel > 1)
            _groups.Add(new Group("routed experts", experts, context.ExpertDataGroup, context.ExpertGroup));
        OptimizerSlices = _groups.SelectMany(g => g.Slices()).ToList();
    }

    /// <summary>
    /// Under pipeline parallelism (<paramref name="pipeline"/>; world rank = replica · P + pipeline rank) a parameter
    /// lives on the pipeline ranks whose stages use it (<see cref="PipelineStageMap.Holders"/>: one, or two for
    /// DualPipe's copies and for the embedding the MTP modules share) in every data-parallel replica — routed experts
    /// only in the replicas at their expert-parallel position. Parameters held by the same ranks form one group,
    /// summed and ZeRO-1 sharded over those ranks; every rank makes the groups in one order (the expert groups for
    /// every expert-parallel position, since each rank sees only its own experts' names).
    /// </summary>
    public DataParallel(DeepSeekV3ForCausalLM model, ParallelContext context, PipelineStageMap pipeline, long bucketElements = 1 << 22)
    {
        if (context.PipelineParallel != pipeline.Ranks)
            throw new InvalidOperationException($"a context of {context.PipelineParallel} pipeline ranks for a {pipeline.Ranks}-rank pipeline");
        _context = context;
        BucketElements = bucketElements;
        var world = context.World;
        var layout = context.Layout;
        int me = context.PipelineRank, position = layout.ExpertRank;
        _pipelineGroup = world.Split(layout.Rank, world.Rank);
        // The gradient norm adds each parameter once: its first pipeline holder counts it (dense ones at expert
        // position 0 only), summed over the pipeline and the expert-parallel group.
        _normGroup = layout.ExpertParallel == 1 ? _pipelineGroup : world.Split(layout.ExpertGroup, world.Rank);
        var named = model.named_parameters().Where(p => p.parameter.requires_grad)
            .Select(p => (p.name, p.parameter, Holders: string.Join(',', pipeline.Holders(p.name)),
                          Position: ExpertParallel.IsRoutedExpertParameter(p.name) ? position : -1)).ToList();
        var keys = named.Where(p => p.Position < 0).Select(p => (p.Holders, Position: -1))
            .Concat(named.Where(p => p.Position >= 0).SelectMany(p => Enumerable.Range(0, layout.ExpertParallel).Select(e => (p.Holders, Position: e))))
            .Distinct().OrderBy(k => k.Holders, StringComparer.Ordinal).ThenBy(k => k.Position).ToList();
        foreach (var key in keys)
        {
            int[] holders = key.Holders.Split(',').Select(int.Parse).ToArray();
            bool member = holders.Contains(me) && (key.Position < 0 || key.Position == position);
            var replicas = world.Split(member ? 1 : 0, world.Rank);
            if (!member)
            {
                replicas.Dispose();
                continue;
            }
            _owned.Add(replicas);
            var parameters = named.Where(p => p.Holders == key.Holders && p.Position == key.Position).Select(p => (p.name, p.parameter)).ToList();
            string label = key.Position < 0 ? $"pipeline ranks {key.Holders}" : $"pipeline ranks {key.Holders}, experts at position {key.Position}";
            _groups.Add(new Group(label, parameters, replicas, spread: null,
                countsInNorm: holders[0] == me && (key.Position >= 0 || position == 0)));
        }
        OptimizerSlices = _groups.SelectMany(g => g.Slices()).ToList();
    }

    private readonly ICommunicator? _pipelineGroup, _normGroup;
    private readonly List<ICommunicator> _owned = [];

    public ParallelContext Context => _context;

    /// <summary>The ranks of this rank's pipeline (null without pipeline parallelism).</summary>
    public ICommunicator? PipelineGroup => _pipelineGroup;
    public long BucketElements { get; }

    /// <summary>This rank's ZeRO-1 share of the parameters: what its optimizer updates.</summary>
    public IReadOnlyList<ParameterSlice> OptimizerSlices { get; }

    /// <summary>Time spent inside this class's communication calls since construction (blocking time).</summary>
    public TimeSpan CommunicationTime => _communication.Elapsed;

    /// <summary>Sums every gradient over its replicas, in buckets (one in flight while the next is packed).</summary>
    public void SynchronizeGradients()
    {
        foreach (var group in _groups)
            Time(() => group.SumGradients(BucketElements));
    }

    /// <summary>The L2 norm of the whole model's gradient, identical on every rank: dense gradients are the same
    /// everywhere after <see cref="SynchronizeGradients"/>; the routed experts' squares are summed over the
    /// expert-parallel group, which together holds every expert once.</summary>
    public double GradientNorm()
    {
        double total = 0;
        double[] pipelinePart = [0];
        foreach (var group in _groups)
        {
            double[] squares = [group.SquaredNorm()];
            if (group.Spread is { Size: > 1 } spread)
            {
                Time(() => spread.AllReduce<double>(squares));
                total += squares[0];
            }
            else if (group.CountsInNorm)
                pipelinePart[0] += squares[0];
        }
        // Under a pipeline each rank holds some stages: the first holder of each group counts it, once.
        if (_normGroup is { Size: > 1 } norm)
            Time(() => norm.AllReduce<double>(pipelinePart));
        return Math.Sqrt(total + pipelinePart[0]);
    }

    /// <summary>Scales every gradient by <paramref name="factor"/> (gradient clipping).</summary>
    public void ScaleGradients(double factor)
    {
        using var _ = no_grad();
        using var scale = factor.ToScalar();
        foreach (var group in _groups)
            foreach (var (_, p) in group.Parameters)
                if (p.grad is { } g)
                    using (g)
                        g.mul_(scale);
    }

    /// <summary>After the optimizer updated this rank's share: every replica receives every share.</summary>
    public void GatherParameters()
    {
        foreach (var group in _groups)
            Time(group.GatherParameters);
    }

    /// <summary>Element-wise sum over all ranks (losses, token counts, expert loads).</summary>
    public void SumOverWorld<T>(Span<T> values) where T : unmanaged
    {
        if (_context.World.Size == 1) return;
        _communication.Start();
        try { _context.World.AllReduce(values); }
        finally { _communication.Stop(); }
    }

    public void Dispose()
    {
        foreach (var communicator in _owned) communicator.Dispose();
        if (_normGroup != _pipelineGroup) _normGroup?.Dispose();
        _pipelineGroup?.Dispose();
    }

    private void Time(Action action)
    {
        _communication.Start();
        try { action(); }
        finally { _communication.Stop(); }
    }

    /// <summary>Parameters replicated on the same ranks, flattened in state-dict order.</summary>
    private sealed class Group
    {
        private readonly long[] _offsets;                                                  // flat start of each parameter

        public Group(string label, List<(string Name, Parameter Parameter)> parameters, ICommunicator replicas, ICommunicator? spread,
            bool countsInNorm = true)
        {
            CountsInNorm = countsInNorm;
            Label = label;
            Parameters = parameters;
            Replicas = replicas;
            Spread = spread;
            _offsets = new long[parameters.Count + 1];
            for (int i = 0; i < parameters.Count; i++)
                _offsets[i + 1] = _offsets[i] + parameters[i].Parameter.numel();
            if (Total > int.MaxValue)
                throw new InvalidArgumentException($"{label}: {Total:N0} parameters in one data-parallel group exceed the 2^31 elements " +
                                                   "one all-gather can carry");
            int n = replicas.Size;
            ShareStart = Enumerable.Range(0, n + 1).Select(r => Total * r / n).ToArray();
        }

        public string Label { get; }
        public List<(string Name, Parameter Parameter)> Parameters { get; }
        public ICommunicator Replicas { get; }
        public ICommunicator? Spread { get; }

        /// <summary>Whether this rank adds the group's squares to the gradient norm (without <see cref="Spread"/>).</summary>
        public bool CountsInNorm { get; }
        public long Total => _offsets[^1];

        /// <summary>Flat start of replica r's share; share r is [ShareStart[r], ShareStart[r + 1]).</summary>
        public long[] ShareStart { get; }

        private long MyStart => ShareStart[Replicas.Rank];
        private long MyEnd => ShareStart[Replicas.Rank + 1];

        public IEnumerable<ParameterSlice> Slices()
        {
            for (int i = 0; i < Parameters.Count; i++)
            {
                long start = Math.Max(_offsets[i], MyStart), end = Math.Min(_offsets[i + 1], MyEnd);
                if (end > start)
                    yield return new ParameterSlice(Parameters[i].Name, Parameters[i].Parameter, start - _offsets[i], end - start);
            }
        }

        public void SumGradients(long bucketElements)
        {
            if (Replicas.Size == 1 || Total == 0) return;
            using var _ = no_grad();
            // Which parameters have a gradient on some replica: those get one everywhere (zeros where unused).
            int[] present = Parameters.Select(p => p.Parameter.grad is null ? 0 : 1).ToArray();
            Replicas.AllReduce<int>(present, ReduceOp.Max);
            for (int i = 0; i < Parameters.Count; i++)
                if (present[i] == 1 && Parameters[i].Parameter.grad is null)
                    Parameters[i].Parameter.grad = zeros_like(Parameters[i].Parameter);

            long size = Math.Min(bucketElements, Total);
            using var bufferA = empty(size, ScalarType.Float32);
            using var bufferB = empty(size, ScalarType.Float32);
            (Tensor Buffer, long Start, long Length, ICommRequest Request)? inFlight = null;
            int k = 0;
            for (long start = 0; start < Total; start += size, k++)
            {
                long length = Math.Min(size, Total - start);
                var buffer = (k % 2 == 0 ? bufferA : bufferB).narrow(0, 0, length);
                CopyFlat(start, length, buffer, toBuffer: true, present);
                var request = Replicas.AllReduceAsync(NativeBuffer<float>.Of(buffer));
                if (inFlight is { } previous)
                    Finish(previous, present);
                inFlight = (buffer, start, length, request);
            }
            if (inFlight is { } last)
                Finish(last, present);
        }

        private void Finish((Tensor Buffer, long Start, long Length, ICommRequest Request) bucket, int[] present)
        {
            bucket.Request.Wait();
            bucket.Request.Dispose();
            CopyFlat(bucket.Start, bucket.Length, bucket.Buffer, toBuffer: false, present);
            bucket.Buffer.Dispose();
        }

        /// <summary>Copies flat range [start, start + length) of the group's gradients into (or out of)
        /// <paramref name="buffer"/>; parameters without a gradient anywhere travel as zeros and stay without.</summary>
        private void CopyFlat(long start, long length, Tensor buffer, bool toBuffer, int[] present)
        {
            long end = start + length;
            for (int i = FirstParameterAt(start); i < Parameters.Count && _offsets[i] < end; i++)
            {
                long from = Math.Max(start, _offsets[i]), to = Math.Min(end, _offsets[i + 1]);
                using var part = buffer.narrow(0, from - start, to - from);
                if (present[i] == 0)
                {
                    if (toBuffer) part.zero_();
                    continue;
                }
                using var grad = Parameters[i].Parameter.grad!;
                using var flat = grad.view(-1).narrow(0, from - _offsets[i], to - from);
                if (toBuffer) part.copy_(flat);
                else flat.copy_(part);
            }
        }

        private int FirstParameterAt(long flat)
        {
            int i = Array.BinarySearch(_offsets, flat);
            return i >= 0 ? i : ~i - 1;
        }

        public double SquaredNorm()
        {
            using var scope = NewDisposeScope();
            double sum = 0;
            foreach (var (_, p) in Parameters)
                if (p.grad is { } g)
                    sum += g.to(ScalarType.Float64).square().sum().item<double>();
            return sum;
        }

        public void GatherParameters()
        {
            if (Replicas.Size == 1 || Total == 0) return;
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var flat = empty(Total, ScalarType.Float32);
            var send = empty(MyEnd - MyStart, ScalarType.Float32);
            for (int i = 0; i < Parameters.Count; i++)
            {
                long from = Math.Max(_offsets[i], MyStart), to = Math.Min(_offsets[i + 1], MyEnd);
                if (to > from)
                    send.narrow(0, from - MyStart, to - from).copy_(Parameters[i].Parameter.view(-1).narrow(0, from - _offsets[i], to - from));
            }
            int[] counts = Enumerable.Range(0, Replicas.Size).Select(r => (int)(ShareStart[r + 1] - ShareStart[r])).ToArray();
            Replicas.AllGatherV<float>(NativeBuffer<float>.Of(send).AsSpan(), NativeBuffer<float>.Of(flat).AsSpan(), counts);
            for (int i = 0; i < Parameters.Count; i++)
            {
                var p = Parameters[i].Parameter;
                p.view(-1).copy_(flat.narrow(0, _offsets[i], p.numel()));
            }
        }
    }
}
