using System.Text.Json;
using System.Text.RegularExpressions;
using DeepSeekV3.Checkpoints;
using DeepSeekV3.Distributed;
using DeepSeekV3.Training.Pipeline;
using DeepSeekV3.IO;
using DeepSeekV3.Modeling;
using DeepSeekV3.Training.Optimization;
using static TorchSharp.torch;

namespace DeepSeekV3.Training.Checkpointing;

/// <summary>
/// Training checkpoints under <c>OUT/checkpoints/step-NNNNNNNN/</c>: <c>model/</c> (an HF model directory in FP32,
/// router biases included as <c>e_score_correction_bias</c> — loadable by <c>dsv3 logits/generate</c>),
/// the AdamW moments and the torch RNG state (<c>optimizer.safetensors</c> from one process; from N ranks, one
/// <c>optimizer-0000R-of-0000N.safetensors</c> per rank holding its ZeRO-1 share) and <c>trainer_state.json</c>.
/// Under expert parallelism the ranks of the first expert-parallel group each write their experts as one shard of
/// the model (rank 0 adds everything else, the index and config.json).
/// A checkpoint is written into a temporary folder — by every rank, so on several machines the run directory must
/// be a shared file system — and renamed into place by rank 0 only when every rank is done; a process killed
/// during a save leaves at most a <c>.tmp-*</c> folder, which is ignored and cleaned up, so the previous checkpoint
/// stays the newest usable one. Only the last K are kept. Any number of ranks can resume any checkpoint.
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
    /// <paramref name="keepLast"/>. Under data/expert parallelism every rank of <paramref name="parallel"/> calls
    /// this together. <paramref name="beforeCommit"/> runs (on rank 0) when everything is written but not yet
    /// renamed into place (tests use it to simulate a crash). Returns the checkpoint's folder.</summary>
    public static string Save(string runDirectory, DeepSeekV3ForCausalLM model, AdamW optimizer, TrainerState state,
        int keepLast, Action<string>? beforeCommit = null, ParallelContext? parallel = null, PipelineStageMap? pipeline = null)
    {
        using var single = parallel is null ? ParallelContext.Single() : null;
        var context = parallel ?? single!;
        var world = context.World;
        string root = Path.Combine(runDirectory, Folder);
        string final = Path.Combine(root, $"step-{state.Step:D8}");
        string temp = Path.Combine(root, $".tmp-step-{state.Step:D8}-{SharedToken(world)}");
        if (context.IsMain)
            Directory.CreateDirectory(Path.Combine(temp, ModelFolder));
        world.Barrier();

        SaveModel(model, Path.Combine(temp, ModelFolder), context, pipeline);
        using (var rng = context.IsMain ? random.get_rng_state() : null)
        {
            var tensors = optimizer.StateTensors().ToList();
            if (rng is not null) tensors.Add((RngTensor, rng));
            string file = world.Size == 1 ? OptimizerFile : $"optimizer-{world.Rank + 1:D5}-of-{world.Size:D5}.safetensors";
            SafetensorsWriter.Write(Path.Combine(temp, file), tensors,
                new Dictionary<string, string> { ["step"] = optimizer.StepCount.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }
        if (context.IsMain)
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
        world.Barrier();                                                                    // every rank's files are on disk
        if (context.IsMain)
        {
            beforeCommit?.Invoke(temp);
            if (Directory.Exists(final))
                Directory.Delete(final, recursive: true);                                  // same step saved again
            Directory.Move(temp, final);                                                    // the commit point
            Prune(root, keepLast);
        }
        world.Barrier();
        return final;
    }

    /// <summary>An HF model folder (FP32) written by every rank together: rank 0 writes the whole model when every
    /// rank holds all of it; under expert parallelism the first replica's ranks write one shard each (their experts;
    /// rank 0 also everything else); under a pipeline the first pipeline's ranks write one shard each (the tensors
    /// whose first holder they are). Rank 0 writes the index and config.json.</summary>
    public static void SaveModel(DeepSeekV3ForCausalLM model, string directory, ParallelContext context, PipelineStageMap? pipeline = null)
    {
        var options = new ModelCheckpoint.SaveOptions { Dtype = ScalarType.Float32 };
        var layout = context.Layout;
        if (layout.ExpertParallel == 1 && pipeline is null)
        {
            if (context.IsMain) ModelCheckpoint.Save(model, directory, options);
            return;
        }
        // Shard s of n, written by the first expert replica: which tensors a rank writes, and the shard of any rank.
        int experts = layout.ExpertParallel, stages = pipeline?.Ranks ?? 1;
        int shards = stages * experts;
        int ShardOf(int rank) => rank % stages * experts + rank / stages % experts;
        bool firstReplica = layout.ExpertGroup == 0;
        bool Writes(string name) => ExpertParallel.IsRoutedExpertParameter(name)
            ? pipeline is null || pipeline.Holders(name)[0] == context.PipelineRank
            : layout.ExpertRank == 0 && (pipeline is null ? context.IsMain : pipeline.Holders(name)[0] == context.PipelineRank);

        using var scope = NewDisposeScope();
        IReadOnlyList<(string Name, long Bytes)> written = [];
        if (firstReplica)
        {
            var tensors = ModelCheckpoint.Tensors(model, options).Where(t => Writes(t.Name)).ToList();
            written = CheckpointWriter.WriteShard(directory, ShardOf(context.World.Rank) + 1, shards, tensors, ModelCheckpoint.Metadata);
        }
        var all = GatherLists(context.World, written.Select(w => $"{w.Name}\t{w.Bytes}").ToList());
        if (!context.IsMain) return;
        var entries = all.SelectMany((lines, rank) => lines.Select(line =>
        {
            string[] parts = line.Split('\t');
            return (parts[0], ShardOf(rank) + 1, long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }));
        CheckpointWriter.WriteIndex(directory, shards, entries, ModelCheckpoint.Metadata);
        ModelCheckpoint.SaveConfig(model, directory, options);
    }

    /// <summary>Every rank's list of lines, on every rank (UTF-8 over an all-gather).</summary>
    private static List<string[]> GatherLists(ICommunicator world, List<string> lines)
    {
        byte[] mine = System.Text.Encoding.UTF8.GetBytes(string.Join('\n', lines));
        int[] counts = new int[world.Size];
        world.AllGather<int>([mine.Length], counts);
        byte[] all = new byte[counts.Sum()];
        world.AllGatherV<byte>(mine, all, counts);
        var result = new List<string[]>();
        int offset = 0;
        foreach (int count in counts)
        {
            string text = System.Text.Encoding.UTF8.GetString(all, offset, count);
            result.Add(text.Length == 0 ? [] : text.Split('\n'));
            offset += count;
        }
        return result;
    }

    /// <summary>A name part every rank agrees on: rank 0's random token, broadcast.</summary>
    private static string SharedToken(ICommunicator world)
    {
        byte[] token = world.Rank == 0 ? Guid.NewGuid().ToByteArray() : new byte[16];
        world.Broadcast<byte>(token, 0);
        return new Guid(token).ToString("N");
    }

    /// <summary>--out must be a directory (or not exist yet); a fresh start must not overwrite another run's
    /// checkpoints and metrics (as HF's run_clm refuses a non-empty output_dir without resume or overwrite).</summary>
    public static void CheckRunDirectory(string output, bool resume)
    {
        if (File.Exists(output))
            throw new InvalidArgumentException($"--out \"{output}\": is a file; expected a run directory (new or existing)");
        if (!resume && Latest(output) is { } checkpoint)
            throw new InvalidArgumentException(
                $"--out \"{output}\" already holds a run ({Path.GetFileName(checkpoint)}): add --resume to continue it, or choose another --out");
    }

    /// <summary>The newest complete checkpoint folder of a run, or null.</summary>
    public static string? Latest(string runDirectory) => Completed(Path.Combine(runDirectory, Folder)).LastOrDefault();

    public static TrainerState ReadState(string checkpoint) =>
        JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(Path.Combine(checkpoint, StateFile)))
        ?? throw new DeepSeekV3Exception($"{Path.Combine(checkpoint, StateFile)}: empty trainer state");

    /// <summary>The checkpoint's model, FP32, in train mode, whole (every expert); the caller owns it.</summary>
    public static DeepSeekV3ForCausalLM LoadModel(string checkpoint, Device device)
    {
        var model = ModelCheckpoint.Load(Path.Combine(checkpoint, ModelFolder), device, ScalarType.Float32);
        model.train();
        return model;
    }

    /// <summary>Restores <paramref name="optimizer"/>'s moments for its slices, whatever number of ranks saved
    /// them, and the torch RNG state.</summary>
    public static void LoadOptimizer(string checkpoint, AdamW optimizer, long optimizerSteps)
    {
        using var reader = new OptimizerStateReader(checkpoint, RngTensor);
        var read = new List<Tensor>();
        try
        {
            optimizer.LoadState(optimizerSteps, (prefix, slice) =>
            {
                var t = reader.Read(prefix, slice);
                if (t is not null) read.Add(t);
                return t;
            });
            if (reader.RngFile is { } file)
            {
                using var rng = file.ReadTensor(RngTensor);
                random.set_rng_state(rng);
            }
        }
        finally
        {
            read.ForEach(t => t.Dispose());
        }
    }

    /// <summary>Reads a checkpoint in one process: the model (FP32, train mode), the trainer state, and restores the
    /// optimizer's moments into <paramref name="optimizerFactory"/>'s optimizer (built over the loaded model).</summary>
    public static (DeepSeekV3ForCausalLM Model, AdamW Optimizer, TrainerState State) Load(
        string checkpoint, Device device, Func<DeepSeekV3ForCausalLM, AdamW> optimizerFactory)
    {
        var state = ReadState(checkpoint);
        var model = LoadModel(checkpoint, device);
        var optimizer = optimizerFactory(model);
        LoadOptimizer(checkpoint, optimizer, state.OptimizerSteps);
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
