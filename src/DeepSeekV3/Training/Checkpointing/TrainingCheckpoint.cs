using System.Text.Json;
using System.Text.RegularExpressions;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.IO;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Optimization;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Checkpointing;

/// <summary>
/// Training checkpoints under <c>OUT/checkpoints/step-NNNNNNNN/</c>: <c>model/</c> (an HF model directory in FP32,
/// router biases included as <c>e_score_correction_bias</c> — loadable by <c>dsv3 logits/generate</c>),
/// <c>optimizer.safetensors</c> (AdamW moments and the torch RNG state) and <c>trainer_state.json</c>.
/// A checkpoint is written into a temporary folder and renamed into place only when complete; a process killed
/// during a save leaves at most a <c>.tmp-*</c> folder, which is ignored and cleaned up, so the previous checkpoint
/// stays the newest usable one. Only the last K are kept.
/// </summary>
public static partial class TrainingCheckpoint
{
    public const string Folder = "checkpoints";
    public const string ModelFolder = "model";
    public const string OptimizerFile = "optimizer.safetensors";
    public const string StateFile = "trainer_state.json";
    private const string RngTensor = "rng.torch_cpu";

    [GeneratedRegex(@"^step-(\d{8})$")]
    private static partial Regex StepFolder();

    /// <summary>Writes a checkpoint of step <paramref name="state"/>.Step and prunes to the newest
    /// <paramref name="keepLast"/>. <paramref name="beforeCommit"/> runs when everything is written but not yet
    /// renamed into place (tests use it to simulate a crash). Returns the checkpoint's folder.</summary>
    public static string Save(string runDirectory, DeepSeekV3ForCausalLM model, AdamW optimizer, TrainerState state,
        int keepLast, Action<string>? beforeCommit = null)
    {
        string root = Path.Combine(runDirectory, Folder);
        Directory.CreateDirectory(root);
        string final = Path.Combine(root, $"step-{state.Step:D8}");
        string temp = Path.Combine(root, $".tmp-step-{state.Step:D8}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        ModelCheckpoint.Save(model, Path.Combine(temp, ModelFolder), new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32 });
        using (var rng = random.get_rng_state())
        {
            var tensors = optimizer.StateTensors().Append((RngTensor, rng)).ToList();
            SafetensorsWriter.Write(Path.Combine(temp, OptimizerFile), tensors,
                new Dictionary<string, string> { ["step"] = optimizer.StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
        AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
        beforeCommit?.Invoke(temp);
        if (Directory.Exists(final))
            Directory.Delete(final, recursive: true);                                      // same step saved again
        Directory.Move(temp, final);                                                        // the commit point
        Prune(root, keepLast);
        return final;
    }

    /// <summary>The newest complete checkpoint folder of a run, or null.</summary>
    public static string? Latest(string runDirectory) => Completed(Path.Combine(runDirectory, Folder)).LastOrDefault();

    /// <summary>Reads a checkpoint: the model (FP32, train mode), the trainer state, and restores the optimizer's
    /// moments into <paramref name="optimizerFactory"/>'s optimizer (built over the loaded model).</summary>
    public static (DeepSeekV3ForCausalLM Model, AdamW Optimizer, TrainerState State) Load(
        string checkpoint, Device device, Func<DeepSeekV3ForCausalLM, AdamW> optimizerFactory)
    {
        var state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, StateFile)))
                    ?? throw new DeepSeekV3Exception($"{Path.Combine(checkpoint, StateFile)}: empty trainer state");
        var model = ModelCheckpoint.Load(Path.Combine(checkpoint, ModelFolder), device, ScalarType.Float32);
        model.train();
        var optimizer = optimizerFactory(model);
        using var file = SafetensorsFile.Open(Path.Combine(checkpoint, OptimizerFile));
        var read = new List<Tensor>();
        try
        {
            optimizer.LoadState(state.OptimizerSteps, name =>
            {
                if (!file.Tensors.ContainsKey(name)) return null;
                var t = file.ReadTensor(name);
                read.Add(t);
                return t;
            });
            if (file.Tensors.ContainsKey(RngTensor))
            {
                using var rng = file.ReadTensor(RngTensor);
                random.set_rng_state(rng);
            }
        }
        finally
        {
            read.ForEach(t => t.Dispose());
        }
        return (model, optimizer, state);
    }

    /// <summary>Removes abandoned temporary folders (from a process killed during a save).</summary>
    public static void CleanUpInterrupted(string runDirectory)
    {
        string root = Path.Combine(runDirectory, Folder);
        if (!Directory.Exists(root)) return;
        foreach (string dir in Directory.EnumerateDirectories(root, ".tmp-step-*"))
            Directory.Delete(dir, recursive: true);
    }

    private static List<string> Completed(string root) => !Directory.Exists(root)
        ? []
        : Directory.EnumerateDirectories(root)
            .Where(d => StepFolder().IsMatch(Path.GetFileName(d)) && File.Exists(Path.Combine(d, StateFile)))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static void Prune(string root, int keepLast)
    {
        var all = Completed(root);
        foreach (string old in all.Take(Math.Max(0, all.Count - Math.Max(1, keepLast))))
            Directory.Delete(old, recursive: true);
    }
}
