using DeepSeekV3.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Objectives;

/// <summary>
/// The pre-training loss of one micro-batch of packed windows (report §2.2, §2.1.2). A window holds T + 1 tokens
/// w_0..w_T: the main model reads w_0..w_{T−1} and predicts w_1..w_T. MTP depth k reads h^{k−1} at positions
/// 0..T−1−k together with the tokens t_{i+k} = w_k..w_{T−1}, and predicts t_{i+k+1} = w_{k+1}..w_T (eqs. 21-25);
/// h^0 is the main model's final (normed) hidden state, h^k the output of MTP module k. It runs the model's own
/// forward; recomputation (<see cref="ObjectiveOptions.Recompute"/>) is set on the model's blocks when the objective
/// is made.
/// </summary>
public sealed class TrainingObjective
{
    private readonly DeepSeekV3ForCausalLM _model;

    public TrainingObjective(DeepSeekV3ForCausalLM model, ObjectiveOptions options)
    {
        MtpDepth = options.MtpDepth ?? model.Config.NumNextnPredictLayers;
        if (MtpDepth < 0 || MtpDepth > model.Config.NumNextnPredictLayers)
            throw new InvalidArgumentException(
                $"MTP depth {MtpDepth}: the model has {model.Config.NumNextnPredictLayers} MTP module(s)");
        _model = model;
        Options = options;
        model.SetRecompute(options.Recompute);
    }

    public ObjectiveOptions Options { get; }

    /// <summary>D: the MTP modules this objective trains.</summary>
    public int MtpDepth { get; }

    /// <param name="windows">[b, T + 1] int64 packed token windows.</param>
    /// <param name="mtpWeight">λ of eq. (25) at this step.</param>
    /// <param name="scale">This micro-batch's share of the optimizer step (gradient accumulation).</param>
    /// <param name="trace">Receives every router decision (main and MTP layers) for loads and bias updates.</param>
    public LossParts Compute(Tensor windows, double mtpWeight, double scale, RoutingTrace trace)
    {
        using var scope = NewDisposeScope();
        long batch = windows.shape[0], length = windows.shape[1] - 1;
        Tensor BalanceOf(RoutingTrace t) => BalanceSum(t, batch);
        var context = new ForwardContext
        {
            Mode = AttentionMode.Naive,
            Routing = trace,
            RoutingLoss = t => Options.BalanceAlpha == 0 || t.Records.Count == 0 ? null : BalanceOf(t) * (Options.BalanceAlpha * scale),
        };

        var main = _model.Forward(windows.narrow(1, 0, length), context);
        var mainLoss = CrossEntropy(main.Logits, windows.narrow(1, 1, length));           // L_Main

        var mtpLosses = new List<Tensor>();
        var previous = main.Hidden;                                                       // h^0
        for (int k = 1; k <= MtpDepth && k < length; k++)
        {
            long s = length - k;
            var output = _model.ForwardMtp(k, previous.narrow(1, 0, s), windows.narrow(1, k, s), context);
            mtpLosses.Add(CrossEntropy(output.Logits, windows.narrow(1, k + 1, s)));      // L_MTP^k, eq. (24)
            previous = output.Hidden;                                                     // h^k
        }
        var mtp = mtpLosses.Count > 0 ? stack(mtpLosses).mean() : zeros([], ScalarType.Float32);
        var balance = trace.Records.Count > 0 ? BalanceOf(trace) : zeros([], ScalarType.Float32);

        var total = mainLoss + mtp * mtpWeight + balance * Options.BalanceAlpha;          // (λ/D)Σ_k = λ·mean_k
        total = total * scale;
        return new LossParts(total.MoveToOuterDisposeScope(), mainLoss.detach().MoveToOuterDisposeScope(),
                             mtp.detach().MoveToOuterDisposeScope(), balance.detach().MoveToOuterDisposeScope());
    }

    /// <summary>Σ over the trace's MoE layers of eq. (17) without α.</summary>
    private Tensor BalanceSum(RoutingTrace trace, long sequences)
    {
        Tensor? sum = null;
        foreach (var (_, route) in trace.Records)
        {
            var term = BalanceLoss.Compute(route.Scores, route.Indices, sequences, Options.BalanceSequenceWise);
            sum = sum is null ? term : sum + term;
        }
        return sum!;
    }

    /// <summary>Mean next-token cross-entropy: logits [b, s, V], targets [b, s].</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets) =>
        nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32), targets.reshape(-1));
}
