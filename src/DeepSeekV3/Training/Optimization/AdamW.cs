using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Optimization;

/// <summary>
/// AdamW with decoupled weight decay (Loshchilov and Hutter), as the report trains V3 (§4.2: β1 0.9, β2 0.95,
/// weight decay 0.1). The parameters themselves are the FP32 master weights; the first and second moments may be
/// stored in BF16 (report §3.3.2) — they are widened to FP32 for the update and rounded back once per step.
/// Weight decay applies to matrices only (rank ≥ 2): RMSNorm gains are not shrunk toward zero.
/// The optimizer updates <see cref="ParameterSlice"/>s: whole parameters in one process, a rank's ZeRO-1 share
/// under data parallelism (the update is element-wise, so a slice is updated exactly as it would be in the whole).
/// Owns its moment tensors; dispose with the optimizer.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<ParameterSlice> _slices;
    private readonly Dictionary<int, (Tensor M, Tensor V)> _moments = [];    // by slice index

    public AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, AdamWOptions? options = null)
        : this(parameters.Select(p => ParameterSlice.Whole(p.Name, p.Parameter)), options)
    {
    }

    public AdamW(IEnumerable<ParameterSlice> slices, AdamWOptions? options = null)
    {
        Options = options ?? new AdamWOptions();
        _slices = slices.Where(s => s.Parameter.requires_grad && s.Length > 0).ToList();
    }

    public AdamWOptions Options { get; }

    /// <summary>An optimizer over every trainable parameter of <paramref name="model"/>, by state-dict name.</summary>
    public static AdamW For(nn.Module model, AdamWOptions? options = null) =>
        new(model.named_parameters().Select(p => (p.name, p.parameter)), options);

    /// <summary>Completed update steps t (the bias corrections use t + 1 for the next step).</summary>
    public long StepCount { get; private set; }

    public IReadOnlyList<ParameterSlice> Slices => _slices;

    /// <summary>One update with learning rate <paramref name="lr"/> from the gradients currently in .grad.
    /// Parameters without a gradient (unused in this step) are left alone, their moments too.</summary>
    public void Step(double lr)
    {
        StepCount++;
        double correction1 = 1 - Math.Pow(Options.Beta1, StepCount);
        double correction2 = 1 - Math.Pow(Options.Beta2, StepCount);
        using var _ = no_grad();
        // The scalars are made once and disposed at the end, never left to the finalizer (Modeling.Scalars says why).
        using Scalar beta1 = Options.Beta1.ToScalar(), keep1 = (1 - Options.Beta1).ToScalar(), beta2 = Options.Beta2.ToScalar(),
                     keep2 = (1 - Options.Beta2).ToScalar(), decay = (1 - lr * Options.WeightDecay).ToScalar(),
                     epsilon = Options.Epsilon.ToScalar(), step = (-lr / correction1).ToScalar(), bias2 = correction2.ToScalar();
        for (int i = 0; i < _slices.Count; i++)
        {
            using var scope = NewDisposeScope();
            var slice = _slices[i];
            if (slice.Parameter.grad is not { } fullGrad) continue;
            var grad = slice.Of(fullGrad).to(ScalarType.Float32);
            var p = slice.Of(slice.Parameter);
            var (mStored, vStored) = MomentsOf(i);
            var m = mStored.to(ScalarType.Float32);
            var v = vStored.to(ScalarType.Float32);
            m.mul_(beta1).add_(grad, alpha: keep1);                                             // m_t
            v.mul_(beta2).addcmul_(grad, grad, value: keep2);                                   // v_t
            if (Options.WeightDecay != 0 && slice.Parameter.dim() >= 2)
                p.mul_(decay);                                                                  // decoupled decay
            var denominator = v.div(bias2).sqrt_().add_(epsilon);
            p.addcdiv_(m, denominator, value: step);
            if (!ReferenceEquals(m, mStored)) mStored.copy_(m);                               // BF16 storage
            if (!ReferenceEquals(v, vStored)) vStored.copy_(v);
        }
    }

    private (Tensor M, Tensor V) MomentsOf(int index)
    {
        var slice = _slices[index];
        if (!_moments.TryGetValue(index, out var moments))
        {
            var device = slice.Parameter.device;
            moments = (zeros(slice.StateShape, Options.MomentDtype, device).DetachFromDisposeScope(),
                       zeros(slice.StateShape, Options.MomentDtype, device).DetachFromDisposeScope());
            _moments[index] = moments;
        }
        return moments;
    }

    public const string FirstMoment = "exp_avg";
    public const string SecondMoment = "exp_avg_sq";

    /// <summary>The optimizer state as named tensors (<see cref="ParameterSlice.StateName"/>: "exp_avg.NAME",
    /// "exp_avg_sq.NAME@OFFSET", ...), in slice order, The tensors are the
    /// optimizer's own; do not dispose them.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> StateTensors()
    {
        var list = new List<(string, Tensor)>();
        for (int i = 0; i < _slices.Count; i++)
            if (_moments.TryGetValue(i, out var m))
            {
                var slice = _slices[i];
                list.Add((slice.StateName(FirstMoment), m.M));
                list.Add((slice.StateName(SecondMoment), m.V));
            }
        return list;
    }

    /// <summary>Restores the moments and the step count. <paramref name="read"/>(prefix, slice) returns the
    /// slice's saved moment (any shape with the slice's element count), or null when the checkpoint has none for
    /// it (a parameter that never had a gradient); whoever saved it may have sliced the parameters differently.</summary>
    public void LoadState(long stepCount, Func<string, ParameterSlice, Tensor?> read)
    {
        StepCount = stepCount;
        for (int i = 0; i < _slices.Count; i++)
        {
            var slice = _slices[i];
            var m = read(FirstMoment, slice);
            var v = read(SecondMoment, slice);
            if (m is null || v is null) continue;
            if (m.numel() != slice.Length || v.numel() != slice.Length)
                throw new DeepSeekV3Exception($"optimizer state for {slice.Name}[{slice.Offset}..{slice.Offset + slice.Length}): " +
                                              $"expected {slice.Length} elements, found {m.numel()}");
            var (mStored, vStored) = MomentsOf(i);
            using var _ = no_grad();
            mStored.copy_(m.reshape(slice.StateShape));
            vStored.copy_(v.reshape(slice.StateShape));
        }
    }

    public void Dispose()
    {
        foreach (var (m, v) in _moments.Values)
        {
            m.Dispose();
            v.Dispose();
        }
        _moments.Clear();
    }
}
