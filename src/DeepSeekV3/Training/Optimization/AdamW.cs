using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Optimization;

/// <summary>
/// AdamW with decoupled weight decay (Loshchilov and Hutter), as the report trains V3 (§4.2: β1 0.9, β2 0.95,
/// weight decay 0.1). The parameters themselves are the FP32 master weights; the first and second moments may be
/// stored in BF16 (report §3.3.2) — they are widened to FP32 for the update and rounded back once per step.
/// Weight decay applies to matrices only (rank ≥ 2): RMSNorm gains are not shrunk toward zero.
/// Owns its moment tensors; dispose with the optimizer.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<(string Name, Parameter Parameter)> _parameters;
    private readonly Dictionary<string, (Tensor M, Tensor V)> _moments = new(StringComparer.Ordinal);

    public AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, AdamWOptions? options = null)
    {
        Options = options ?? new AdamWOptions();
        _parameters = parameters.Where(p => p.Parameter.requires_grad).ToList();
    }

    public AdamWOptions Options { get; }

    /// <summary>An optimizer over every trainable parameter of <paramref name="model"/>, by state-dict name.</summary>
    public static AdamW For(nn.Module model, AdamWOptions? options = null) =>
        new(model.named_parameters().Select(p => (p.name, p.parameter)), options);

    /// <summary>Completed update steps t (the bias corrections use t + 1 for the next step).</summary>
    public long StepCount { get; private set; }

    public IReadOnlyList<(string Name, Parameter Parameter)> Parameters => _parameters;

    /// <summary>One update with learning rate <paramref name="lr"/> from the gradients currently in .grad.
    /// Parameters without a gradient (unused in this step) are left alone, their moments too.</summary>
    public void Step(double lr)
    {
        StepCount++;
        double correction1 = 1 - Math.Pow(Options.Beta1, StepCount);
        double correction2 = 1 - Math.Pow(Options.Beta2, StepCount);
        using var _ = no_grad();
        foreach (var (name, p) in _parameters)
        {
            using var scope = NewDisposeScope();
            var grad = p.grad;
            if (grad is null) continue;
            grad = grad.to(ScalarType.Float32);
            var (mStored, vStored) = MomentsOf(name, p);
            var m = mStored.to(ScalarType.Float32);
            var v = vStored.to(ScalarType.Float32);
            m.mul_(Options.Beta1).add_(grad, alpha: 1 - Options.Beta1);                       // m_t
            v.mul_(Options.Beta2).addcmul_(grad, grad, value: 1 - Options.Beta2);             // v_t
            if (Options.WeightDecay != 0 && p.dim() >= 2)
                p.mul_(1 - lr * Options.WeightDecay);                                           // decoupled decay
            var denominator = (v / correction2).sqrt_().add_(Options.Epsilon);
            p.addcdiv_(m, denominator, value: -lr / correction1);
            if (!ReferenceEquals(m, mStored)) mStored.copy_(m);                               // BF16 storage
            if (!ReferenceEquals(v, vStored)) vStored.copy_(v);
        }
    }

    private (Tensor M, Tensor V) MomentsOf(string name, Parameter p)
    {
        if (!_moments.TryGetValue(name, out var moments))
        {
            moments = (zeros(p.shape, Options.MomentDtype, p.device).DetachFromDisposeScope(),
                       zeros(p.shape, Options.MomentDtype, p.device).DetachFromDisposeScope());
            _moments[name] = moments;
        }
        return moments;
    }

    /// <summary>The optimizer state as named tensors ("exp_avg.NAME", "exp_avg_sq.NAME"), in parameter order.
    /// The tensors are the optimizer's own; do not dispose them.</summary>
    public IReadOnlyList<(string Name, Tensor Tensor)> StateTensors()
    {
        var list = new List<(string, Tensor)>();
        foreach (var (name, _) in _parameters)
            if (_moments.TryGetValue(name, out var m))
            {
                list.Add(($"exp_avg.{name}", m.M));
                list.Add(($"exp_avg_sq.{name}", m.V));
            }
        return list;
    }

    /// <summary>Restores moments saved by <see cref="StateTensors"/> and the step count.</summary>
    public void LoadState(long stepCount, Func<string, Tensor?> read)
    {
        StepCount = stepCount;
        foreach (var (name, p) in _parameters)
        {
            var m = read($"exp_avg.{name}");
            var v = read($"exp_avg_sq.{name}");
            if (m is null || v is null) continue;
            if (!m.shape.SequenceEqual(p.shape) || !v.shape.SequenceEqual(p.shape))
                throw new DeepSeekV3Exception($"optimizer state for {name}: expected shape [{string.Join(", ", p.shape)}], " +
                                              $"found [{string.Join(", ", m.shape)}]");
            var (mStored, vStored) = MomentsOf(name, p);
            using var _ = no_grad();
            mStored.copy_(m);
            vStored.copy_(v);
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
