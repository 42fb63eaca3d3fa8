using DeepSeekV3.Modeling;
using DeepSeekV3.Randomness;
using DeepSeekV3.Training.Checkpointing;
using DeepSeekV3.Training.Data;
using DeepSeekV3.Training.Optimization;
using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Distillation;

/// <summary>
/// Logit distillation: the student is trained toward the teacher's whole next-token distribution on the trained
/// (assistant) positions of packed chat windows, L = τ² · mean_t KL(p_T^τ ‖ p_S^τ), p^τ = softmax(z / τ) (Hinton,
/// Vinyals and Dean 2015, "Distilling the Knowledge in a Neural Network"). The teacher is frozen and runs without a
/// graph; the student's main head only (its MTP modules are not trained here); AdamW without weight decay, gradient
/// clip 1.0; packed examples are separated by document masking in both models. Teacher and student must share the
/// tokenizer (same vocabulary).
/// </summary>
public sealed class LogitDistillation : IDisposable
{
    private readonly DeepSeekV3ForCausalLM _teacher, _student;
    private readonly LogitDistillationOptions _options;
    private readonly AdamW _optimizer;

    public LogitDistillation(DeepSeekV3ForCausalLM teacher, DeepSeekV3ForCausalLM student, LogitDistillationOptions options)
    {
        if (teacher.Config.VocabSize != student.Config.VocabSize)
            throw new InvalidArgumentException(
                $"logit distillation: teacher vocab_size {teacher.Config.VocabSize} ≠ student vocab_size {student.Config.VocabSize} (they must share the tokenizer)");
        if (!(options.Temperature > 0) || options.Steps < 1 || options.BatchSequences < 1 || !(options.LearningRate > 0))
            throw new InvalidArgumentException("logit distillation: temperature, steps, batch and learning rate must be positive");
        _teacher = teacher;
        _student = student;
        _options = options;
        foreach (var p in teacher.parameters()) p.requires_grad = false;
        teacher.eval();
        _optimizer = new AdamW(student.named_parameters().Where(p => p.parameter.requires_grad), new AdamWOptions { WeightDecay = 0 });
    }

    /// <summary>τ² · mean over rows of KL(softmax(teacher/τ) ‖ softmax(student/τ)); logits [n, V].</summary>
    public static Tensor Loss(Tensor studentLogits, Tensor teacherLogits, double temperature)
    {
        using var scope = NewDisposeScope();
        var logTeacher = (teacherLogits.to(ScalarType.Float32) / temperature).log_softmax(-1);
        var logStudent = (studentLogits.to(ScalarType.Float32) / temperature).log_softmax(-1);
        var kl = (logTeacher.exp() * (logTeacher - logStudent)).sum(-1);                  // [n]
        return (kl.mean() * (temperature * temperature)).MoveToOuterDisposeScope();
    }

    /// <summary>The loss on windows [b, T + 1] at the positions whose target is trained (labels not ignored), with
    /// the graph on the student; at <paramref name="temperature"/> (default: the options').</summary>
    public Tensor Loss(Tensor windows, Tensor labels, Tensor? segments, double? temperature = null)
    {
        using var scope = NewDisposeScope();
        long length = windows.shape[1] - 1;
        var context = new ForwardContext { Mode = AttentionMode.Naive, Segments = segments?.narrow(1, 0, length) };
        var inputs = windows.narrow(1, 0, length);
        var trained = labels.narrow(1, 1, length).ne(Scalars.IgnoredLabel).reshape(-1);   // [b·T]
        Tensor teacher;
        using (no_grad())
            teacher = _teacher.Forward(inputs, context).Logits.reshape(-1, _teacher.Config.VocabSize)[trained];
        var all = _student.Forward(inputs, context).Logits.reshape(-1, _student.Config.VocabSize);
        if (teacher.shape[0] == 0)
            return (all.sum() * 0).MoveToOuterDisposeScope();                              // no trained position: nothing to learn
        return Loss(all[trained], teacher, temperature ?? _options.Temperature).MoveToOuterDisposeScope();
    }

    /// <summary>KL(teacher ‖ student) at τ = 1 over the given windows, no graph: the distance distillation closes.</summary>
    public double Divergence(PackedDataset data, IReadOnlyList<long> windows)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return Loss(data.Batch(windows, false), data.Labels(windows, false)!, data.Segments(windows, false), 1.0).item<float>();
    }

    /// <summary>Runs the steps over the training windows of <paramref name="data"/> (fine-tuning data with a loss
    /// mask) in a seeded order; <paramref name="onStep"/> receives (step, loss). With <paramref name="checkpoints"/>,
    /// saves as they say and, resuming, continues after the newest one's step.</summary>
    public void Run(PackedDataset data, Action<int, double>? onStep = null, StepCheckpoints? checkpoints = null)
    {
        if (!data.HasLossMask)
            throw new InvalidArgumentException("logit distillation trains on chat data (assistant tokens); got text without a loss mask");
        long count = data.TrainWindows;
        int perStep = (int)Math.Min(_options.BatchSequences, count);
        var order = SplitMix64.Permutation(count, _options.Seed, 0x4B44);
        long done = checkpoints?.Restore(_student, _optimizer, _options.Seed, data.SequenceLength) ?? 0;
        long next = done * perStep;
        _student.train();
        for (int step = (int)done + 1; step <= _options.Steps; step++)
        {
            using var scope = NewDisposeScope();
            var ids = Enumerable.Range(0, perStep).Select(_ => order[next++ % count]).ToList();
            var loss = Loss(data.Batch(ids, false), data.Labels(ids, false)!, data.Segments(ids, false));
            loss.backward();
            GradientClipping.ClipByGlobalNorm(_student.parameters().Where(p => p.requires_grad), 1.0);
            _optimizer.Step(_options.LearningRate * Math.Min(1.0, (double)step / Math.Max(1, _options.Warmup)));
            _student.zero_grad();
            onStep?.Invoke(step, loss.item<float>());
            checkpoints?.AfterStep(_student, _optimizer, step, _options.Seed, data.SequenceLength);
        }
        _student.eval();
    }

    public void Dispose() => _optimizer.Dispose();
}
