using System.Text.Json.Serialization;
using DeepSeekV3.Configuration;

namespace DeepSeekV3.Distributed.Planning;

/// <summary>
/// What <see cref="TrainingPlan"/> is computed from: the model, the cluster (<paramref name="Gpus"/>,
/// <paramref name="GpusPerNode"/>), the parallel layout (DualPipe over <paramref name="PipelineParallel"/> ranks,
/// <paramref name="ExpertParallel"/>-way expert parallelism inside each stage's data-parallel ranks, ZeRO-1 over
/// those), and the run (<paramref name="Tokens"/> in total, sequences of <paramref name="SequenceLength"/>,
/// <paramref name="GlobalBatch"/> sequences per step cut into <paramref name="MicroBatches"/> per pipeline, default
/// one sequence each). The defaults are the report's: 4K sequences, 15,360 per step (§4.2), 8 GPUs per node (§3.1).
/// </summary>
public sealed record PlanInputs(
    [property: JsonIgnore] ModelConfig Config,
    int Gpus,
    int PipelineParallel,
    int ExpertParallel,
    double Tokens,
    int SequenceLength = 4096,
    int GlobalBatch = 15360,
    int? MicroBatches = null,
    double? Mfu = null,
    int GpusPerNode = 8);
