using DeepSeekV3.Modeling;
using DeepSeekV3.Randomness;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Mtp;

/// <summary>
/// Fine-tunes the MTP module(s) alone to predict what the main model itself will predict (self-distillation), which
/// is what speculative decoding verifies: the draft of depth k at position i is accepted when it equals (greedy) or
/// is likely under (sampling) the main model's next-token distribution at position i + k. The main model — blocks,
/// embedding, final norm and head, which the MTP modules share — is frozen and runs without a graph; only the
/// parameters of layers L..L+D−1 are updated (AdamW, no weight decay, gradient clip 1.0). MTP depth k reads the
/// main model's final hidden state chain (h^{k−1}) at positions 0..T−1−k and the real tokens w_k..w_{T−1} (report
/// eq. 21), and is trained toward the main model's prediction at positions k..T−1 instead of the text's next token.
/// Routing biases are not updated and no balance loss is added (the main model's routing is fixed; the MTP block's
/// own routing is left as pre-training set it).
/// </summary>
public sealed class MtpSelfDistillation : IDisposable
{
    private readonly DeepSeekV3ForCausalLM _model;
    private readonly MtpTuneOptions _options;
    private readonly List<(string Name, TorchSharp.Modules.Parameter Parameter)> _trained;
    private readonly AdamW _optimizer;

    public MtpSelfDistillation(DeepSeekV3ForCausalLM model, MtpTuneOptions options)
    {
        if (model.Config.NumNextnPredictLayers == 0)
            throw new InvalidArgumentException("mtp-tune: the model has no MTP module (num_nextn_predict_layers = 0)");
        if (options.Steps < 1 || options.BatchSequences < 1 || !(options.LearningRate > 0) || options.Warmup < 0)
            throw new InvalidArgumentException("mtp-tune: steps, batch and learning rate must be positive, warm-up ≥ 0");
        _model = model;
        _options = options;
        // Freeze everything; then un-freeze exactly the MTP layers' own parameters (not the shared embedding/head;
        // routing biases are buffers, never trained here).
        foreach (var (_, parameter) in model.named_parameters())
            parameter.requires_grad = false;
        int main = model.Config.NumHiddenLayers;
        _trained = model.Model.MtpLayers
            .SelectMany((layer, k) => layer.named_parameters().Select(p => ($"model.layers.{main + k}.{p.name}", p.parameter)))
            .ToList();
        foreach (var (_, parameter) in _trained)
            parameter.requires_grad = true;
        _optimizer = new AdamW(_trained, new AdamWOptions { WeightDecay = 0 });
    }

    /// <summary>The parameters this tuner updates, by checkpoint name.</summary>
    public IReadOnlyList<string> TrainedNames => _trained.Select(p => p.Name).ToList();

    /// <summary>The self-distillation loss of windows [b, T + 1] (mean over depths of the per-depth mean), with
    /// the graph on the MTP parameters only; also the share of positions where depth 1's argmax equals the main
    /// model's (the greedy acceptance rate on this text).</summary>
    public (Tensor Loss, double Agreement) Loss(Tensor windows)
    {
        using var scope = NewDisposeScope();
        long length = windows.shape[1] - 1;
        var context = new ForwardContext { Mode = AttentionMode.Naive };
        Tensor mainHidden, mainLogits;
        using (no_grad())
        {
            var main = _model.Forward(windows.narrow(1, 0, length), context);
            (mainHidden, mainLogits) = (main.Hidden, main.Logits.to(ScalarType.Float32));   // [b, T, H], [b, T, V]
        }
        var losses = new List<Tensor>();
        double agreement = 0;
        var previous = mainHidden;                                                          // h^0
        for (int k = 1; k <= _model.Config.NumNextnPredictLayers && k < length; k++)
        {
            long s = length - k;
            var output = _model.ForwardMtp(k, previous.narrow(1, 0, s), windows.narrow(1, k, s), context);
            var logits = output.Logits.to(ScalarType.Float32).reshape(-1, mainLogits.shape[^1]);   // [b·s, V]
            var teacher = mainLogits.narrow(1, k, s).reshape(-1, mainLogits.shape[^1]);             // main's prediction at i + k
            losses.Add(_options.SoftTargets
                ? nn.functional.kl_div(logits.log_softmax(-1), teacher.log_softmax(-1), reduction: nn.Reduction.Sum, log_target: true) / logits.shape[0]
                : nn.functional.cross_entropy(logits, teacher.argmax(-1)));
            if (k == 1)
                agreement = logits.argmax(-1).eq(teacher.argmax(-1)).to(ScalarType.Float32).mean().item<float>();
            previous = output.Hidden;
        }
        return (stack(losses).mean().MoveToOuterDisposeScope(), agreement);
    }

    /// <summary>Runs <see cref="MtpTuneOptions.Steps"/> steps over the training windows of <paramref name="data"/>
    /// in a seeded order; <paramref name="onStep"/> receives (step, loss, agreement) after each. With
    /// <paramref name="checkpoints"/>, saves as they say and, resuming, continues after the newest one's step.</summary>
    public void Run(PackedDataset data, Action<int, double, double>? onStep = null, StepCheckpoints? checkpoints = null)
    {
        long windows = data.TrainWindows;
        int perStep = (int)Math.Min(_options.BatchSequences, windows);
        var order = SplitMix64.Permutation(windows, _options.Seed, 0x4D5450);
        long done = checkpoints?.Restore(_model, _optimizer, _options.Seed, data.SequenceLength) ?? 0;
        long next = done * perStep;
        for (int step = (int)done + 1; step <= _options.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var ids = Enumerable.Range(0, perStep).Select(_ => order[next++ % windows]).ToList();
            var (loss, agreement) = Loss(data.Batch(ids, validation: false));
            loss.backward();
            GradientClipping.ClipByGlobalNorm(_trained.Select(p => p.Parameter), 1.0);
            _optimizer.Step(_options.LearningRate * Math.Min(1.0, (double)step / Math.Max(1, _options.Warmup)));
            _model.zero_grad();
            onStep?.Invoke(step, loss.item<float>(), agreement);
            checkpoints?.AfterStep(_model, _optimizer, step, _options.Seed, data.SequenceLength);
        }
    }

    public void Dispose() => _optimizer.Dispose();
}
