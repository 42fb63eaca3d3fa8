using DeepSeekV3.Configuration;
using DeepSeekV3.Training.Data;

namespace DeepSeekV3.Training;

/// <summary>A whole `dsv3 train` invocation: where to write, what to train on, the model, and the loop's options.</summary>
public sealed record RunOptions
{
    public required string OutputDirectory { get; init; }
    /// <summary>Pre-training inputs (unused when the caller packs the data itself).</summary>
    public IReadOnlyList<string> DataPaths { get; init; } = [];

    /// <summary>Where token shards are cached (reused by every run over the same files and tokenizer).</summary>
    public string TokenCache { get; init; } = Path.Combine(".data", "tokens");

    /// <summary>Fine-tuning: the model directory to start from instead of a fresh <see cref="Config"/> (ignored when
    /// resuming from a checkpoint).</summary>
    public string? InitialModel { get; init; }

    /// <summary>The model to create; ignored when resuming (the checkpoint's config.json is used).</summary>
    public ModelConfig? Config { get; init; }

    public DataOptions Data { get; init; } = new();
    public TrainerOptions Trainer { get; init; } = new();

    /// <summary>Continue from the newest checkpoint in <see cref="OutputDirectory"/> up to Trainer.Steps.</summary>
    public bool Resume { get; init; }

    /// <summary>Print a progress line every N steps.</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Write PNG plots at the end.</summary>
    public bool Plots { get; init; } = true;

    /// <summary>Under expert parallelism, keep two micro-batches of each MoE layer in flight so that one's dispatch or
    /// combine travels while the other's experts compute (report §3.2.2); off: one batch, blocking transfers.</summary>
    public bool OverlapExpertCommunication { get; init; } = true;

    /// <summary>Pipeline-parallel degree P (1: none): the model's stages over groups of P consecutive ranks.</summary>
    public int PipelineParallel { get; init; } = 1;

    /// <summary>The pipeline schedule (with <see cref="PipelineParallel"/> &gt; 1, or 1 to run a schedule in one process).</summary>
    public Distributed.Pipeline.ScheduleKind? Schedule { get; init; }

    /// <summary>Measure the machine's peak matmul FLOP/s at start (for MFU).</summary>
    public bool MeasurePeak { get; init; } = true;
}
