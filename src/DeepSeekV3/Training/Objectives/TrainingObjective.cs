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
    /// <param name="labels">Fine-tuning: the windows' targets, [b, T + 1], <see cref="Data.PackedDataset.IgnoredLabel"/>
    /// where a token is not trained (null: every token is a target).</param>
    /// <param name="segments">Packed fine-tuning: each window token's example number, [b, T + 1] (document masking,
    /// <see cref="ForwardContext.Segments"/>); null: examples in a window attend to each other.</param>
    public LossParts Compute(Tensor windows, double mtpWeight, double scale, RoutingTrace trace, Tensor? labels = null, Tensor? segments = null)
    {
        using var scope = NewDisposeScope();
        var context = Context(windows, scale, trace) with { Segments = segments is null ? null : Inputs(segments) };
        var h = _model.Model.Run(_model.Model.EmbedTokens.forward(Inputs(windows)), 0, _model.Config.NumHiddenLayers, context);
        var (main, mtp) = HeadLosses(h, windows, context, labels, segments);
        var balance = Balance(trace, windows);
        var total = Combine(main, mtp, balance, mtpWeight, scale);
        return new LossParts(total.MoveToOuterDisposeScope(), main.detach().MoveToOuterDisposeScope(),
                             mtp.detach().MoveToOuterDisposeScope(), balance.detach().MoveToOuterDisposeScope());
    }

    /// <summary>The main model's input tokens w_0..w_{T−1} of windows [b, T + 1].</summary>
    public static Tensor Inputs(Tensor windows) => windows.narrow(1, 0, windows.shape[1] - 1);

    /// <summary>The forward context of one micro-batch: naive attention, routers recorded in
    /// <paramref name="trace"/>, and the balance term that recomputed blocks back-propagate.</summary>
    public ForwardContext Context(Tensor windows, double scale, RoutingTrace trace)
    {
        long batch = windows.shape[0];
        return new ForwardContext
        {
            Mode = AttentionMode.Naive,
            Routing = trace,
            RoutingLoss = t => Options.BalanceAlpha == 0 || t.Records.Count == 0 ? null : BalanceSum(t, batch) * (Options.BalanceAlpha * scale),
        };
    }

    /// <summary>
    /// L_Main and the mean L_MTP over the depths (zero without MTP) from the last main block's output
    /// <paramref name="lastBlockOutput"/> [b, T, hidden]: the final norm, the head, and the MTP chain, whose routers
    /// record into <paramref name="context"/>'s trace. A pipeline's last stage computes exactly this. With
    /// <paramref name="labels"/>, each loss is the mean over the trained targets only. With
    /// <paramref name="segments"/> [b, T + 1] (document masking), a target in another example than its input
    /// position is not trained, and each MTP module attends within examples too.
    /// </summary>
    public (Tensor Main, Tensor Mtp) HeadLosses(Tensor lastBlockOutput, Tensor windows, ForwardContext context, Tensor? labels = null,
        Tensor? segments = null)
    {
        using var scope = NewDisposeScope();
        long length = windows.shape[1] - 1;
        var targets = labels ?? windows;
        Func<Tensor, Tensor, Tensor> crossEntropy = labels is null && segments is null ? CrossEntropy : MaskedCrossEntropy;
        // The target of position i at distance d (1 for the main head, k + 1 for MTP depth k), ignored across examples.
        Tensor Targets(long d, long s) => segments is null
            ? targets.narrow(1, d, s)
            : targets.narrow(1, d, s).masked_fill(segments.narrow(1, d, s).ne(segments.narrow(1, 0, s)), Scalars.IgnoredLabel);
        var main = _model.Head(lastBlockOutput);
        var mainLoss = crossEntropy(main.Logits, Targets(1, length));                     // L_Main

        var mtpLosses = new List<Tensor>();
        var previous = main.Hidden;                                                       // h^0
        for (int k = 1; k <= MtpDepth && k < length; k++)
        {
            long s = length - k;
            var depthContext = segments is null ? context : context with { Segments = segments.narrow(1, 0, s) };
            var output = _model.ForwardMtp(k, previous.narrow(1, 0, s), windows.narrow(1, k, s), depthContext);
            mtpLosses.Add(crossEntropy(output.Logits, Targets(k + 1, s)));                // L_MTP^k, eq. (24)
            previous = output.Hidden;                                                     // h^k
        }
        var mtp = mtpLosses.Count > 0 ? stack(mtpLosses).mean() : zeros([], ScalarType.Float32);
        return (mainLoss.MoveToOuterDisposeScope(), mtp.MoveToOuterDisposeScope());
    }

    /// <summary>Σ of eq. (17) without α over the MoE layers recorded in <paramref name="trace"/> (zero when none).</summary>
    public Tensor Balance(RoutingTrace trace, Tensor windows) =>
        trace.Records.Count > 0 ? BalanceSum(trace, windows.shape[0]) : zeros([], ScalarType.Float32);

    /// <summary>Eq. (25) plus the balance term, scaled by the micro-batch's share: (L_Main + λ·L_MTP + α·L_Bal)·scale.</summary>
    public Tensor Combine(Tensor main, Tensor mtp, Tensor balance, double mtpWeight, double scale) =>
        (main + mtp * mtpWeight + balance * Options.BalanceAlpha) * scale;                // (λ/D)Σ_k = λ·mean_k

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

    /// <summary>Mean next-token cross-entropy over the targets that are not <see cref="Data.PackedDataset.IgnoredLabel"/>:
    /// logits [b, s, V], targets [b, s]; zero (not NaN) when every target is ignored, so a fine-tuning micro-batch of
    /// prompt tokens only adds nothing.</summary>
    public static Tensor MaskedCrossEntropy(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var flat = targets.reshape(-1);
        var sum = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float32), flat,
            ignore_index: Data.PackedDataset.IgnoredLabel, reduction: nn.Reduction.Sum);
        return (sum / flat.ne(Scalars.IgnoredLabel).sum().clamp_min(Scalars.One)).MoveToOuterDisposeScope();
    }
}
