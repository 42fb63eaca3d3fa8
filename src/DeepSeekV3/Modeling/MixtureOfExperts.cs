using DeepSeekV3.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// DeepSeekMoE layer (report eqs. 12-15): h' = Σ shared experts(u) + Σ_i g_i · expert_i(u), with
/// fine-grained routed experts chosen by <see cref="Router"/>. The routed sum is computed by an
/// <see cref="IRoutedExpertExecutor"/>: <see cref="LocalExpertExecutor"/> unless a parallel layout installs another
/// (expert parallelism keeps only some experts here and sends tokens to the others). No token is ever dropped.
/// Checkpoint names: gate, experts.{i} (i the global expert index, also when this process holds only some experts),
/// shared_experts.
/// </summary>
public sealed class MixtureOfExperts : nn.Module
{
    // Submodules are registered under their checkpoint names in the constructor; TorchSharp's reflection-based
    // registration would register them a second time under C# backing-field names.
    protected override void RegisterComponents() { }

    private readonly int _layer;
    private RoutedExpertSet _experts;
    private IRoutedExpertExecutor _executor = LocalExpertExecutor.Instance;

    public MixtureOfExperts(ModelConfig config, int layer) : base(nameof(MixtureOfExperts))
    {
        _layer = layer;
        RoutedExperts = config.NRoutedExperts;
        Gate = new Router(config);
        _experts = new RoutedExpertSet(Enumerable.Range(0, config.NRoutedExperts)
            .Select(i => (i, new SwiGluMlp(config.HiddenSize, config.MoeIntermediateSize))));
        register_module("gate", Gate);
        register_module("experts", _experts);
        if (config.NSharedExperts > 0)
        {
            SharedExperts = new SwiGluMlp(config.HiddenSize, (long)config.NSharedExperts * config.MoeIntermediateSize);
            register_module("shared_experts", SharedExperts);
        }
    }

    /// <summary>The decoder layer index (MTP modules continue after the main layers).</summary>
    public int Layer => _layer;

    public Router Gate { get; }
    public SwiGluMlp? SharedExperts { get; }

    /// <summary>n_routed_experts: the experts the router chooses from, wherever they live.</summary>
    public int RoutedExperts { get; }

    /// <summary>The routed experts this process holds: [First, First + Count) of the global indices. A set that is not
    /// one range (expert-parallel inference with EPLB placements, see <see cref="HoldExperts"/>) has no such form.</summary>
    public (int First, int Count) LocalExperts
    {
        get
        {
            var held = HeldExperts;
            int first = held.Count == 0 ? 0 : held.Min();
            if (held.Count > 0 && held.Max() - first + 1 != held.Count)
                throw new InvalidOperationException($"layer {_layer}: holds experts {{{string.Join(", ", held)}}}, not one range");
            return (first, held.Count);
        }
    }

    /// <summary>The global indices of the routed experts this process holds, ascending.</summary>
    public IReadOnlyCollection<int> HeldExperts => _experts.Indices;

    public IRoutedExpertExecutor Executor => _executor;

    /// <summary>Set under FP8 training (report §3.3.3, "Low-Precision Communication"): the tokens dispatched to the routed
    /// experts are quantized once, in the routed experts' own 1×128 input scaling, and both up-projections of each expert
    /// multiply those codes; null: each projection quantizes its input itself (or does not quantize at all).</summary>
    internal Precision.Fp8Scaling? DispatchScaling { get; set; }

    /// <summary>Routed expert <paramref name="expert"/> on its dispatched tokens [n, hidden]; <paramref name="dispatched"/>
    /// is those tokens in FP8 when <see cref="DispatchScaling"/> is set (null otherwise). Returns [n, hidden].</summary>
    internal Tensor RunExpert(int expert, Tensor tokens, Precision.QuantizedMatrix? dispatched) =>
        Expert(expert).Forward(tokens, dispatched);

    public bool HasExpert(int expert) => _experts.Contains(expert);

    /// <summary>Routed expert <paramref name="expert"/> (global index); it must be held by this process.</summary>
    public SwiGluMlp Expert(int expert)
    {
        if (_experts.TryGet(expert, out var mlp)) return mlp;
        throw new InvalidOperationException(
            $"layer {_layer}: routed expert {expert} is not held by this process " +
            $"(it holds experts {{{string.Join(", ", HeldExperts)}}} of {RoutedExperts})");
    }

    /// <summary>Replaces how the routed sum is computed (an expert-parallel executor, say).</summary>
    public void UseExecutor(IRoutedExpertExecutor executor) => _executor = executor;

    /// <summary>
    /// Keeps only routed experts [first, first + count) and disposes the others: a shard of an expert-parallel
    /// layout. The kept experts keep their parameters, values and names (<c>experts.{i}</c>).
    /// </summary>
    public void RetainExperts(int first, int count)
    {
        if (count < 0 || Enumerable.Range(first, count).Any(i => !HasExpert(i)))
            throw new ArgumentOutOfRangeException(nameof(first),
                $"layer {_layer}: experts [{first}, {first + count}) are not all held (held: {{{string.Join(", ", HeldExperts)}}})");
        HoldExperts(Enumerable.Range(first, count).Select(i => (i, Expert(i))));
    }

    /// <summary>
    /// Holds exactly <paramref name="experts"/> (global index, module): the ones already held are passed as
    /// <see cref="Expert"/> returns them, new ones (weights received from another rank, say) are adopted, and every
    /// held expert not listed is disposed. Names stay <c>experts.{i}</c>.
    /// </summary>
    public void HoldExperts(IEnumerable<(int Index, SwiGluMlp Expert)> experts)
    {
        var kept = new RoutedExpertSet(experts);
        var dropped = HeldExperts.Where(i => !kept.TryGet(i, out var mlp) || !ReferenceEquals(mlp, Expert(i))).Select(Expert).ToList();
        register_module("experts", null!);       // unregisters the old set
        register_module("experts", kept);
        _experts = kept;
        foreach (var mlp in dropped) mlp.Dispose();
    }

    /// <summary>x: [batch, seq, hidden] → [batch, seq, hidden].</summary>
    public Tensor Forward(Tensor x, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        var shape = x.shape;
        var tokens = x.reshape(-1, shape[^1]);                                           // [N, hidden]
        var route = Gate.Route(tokens);
        var routed = _executor.RoutedSum(this, tokens, route);                            // [N, hidden], fp32 sum

        var output = routed.to(x.dtype);
        if (SharedExperts is not null)
            output = output + SharedExperts.forward(tokens);
        if (context.Routing is { } trace)
            trace.Add(_layer, route);
        return output.reshape(shape).MoveToOuterDisposeScope();
    }
}
