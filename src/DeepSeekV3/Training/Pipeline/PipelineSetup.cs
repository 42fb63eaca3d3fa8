using DeepSeekV3.Distributed;
using DeepSeekV3.Distributed.Pipeline;

namespace DeepSeekV3.Training.Pipeline;

/// <summary>What a trainer needs to run as one rank of a pipeline: the stage map and the communicator of its
/// pipeline (P ranks; its rank is the pipeline rank).</summary>
public sealed record PipelineSetup(PipelineStageMap Map, ICommunicator Group)
{
    private readonly Dictionary<int, IReadOnlyList<PipelineOp>> _programs = [];

    /// <summary>This rank's ops for a step of <paramref name="microBatches"/> micro-batches (the schedule generator's,
    /// made once per count; refused with the schedule's rule when the count does not fit it).</summary>
    public IReadOnlyList<PipelineOp> Program(int microBatches)
    {
        if (_programs.TryGetValue(microBatches, out var ops)) return ops;
        try
        {
            ops = PipelineSchedule.Build(Map.Kind, Map.Ranks, microBatches).Programs[Group.Rank].Ops.ToList();
        }
        catch (ScheduleLayoutException e)
        {
            throw new InvalidArgumentException(
                $"--batch-tokens / --micro-batch give each pipeline {microBatches} micro-batches per step, which the schedule cannot run: {e.Message}");
        }
        return _programs[microBatches] = ops;
    }
}
