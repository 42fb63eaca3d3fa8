namespace DeepSeekV3.Distributed;

/// <summary>
/// The communicators a rank needs for its <see cref="ParallelLayout"/>: the world (data parallel over dense
/// weights, global sums), its expert-parallel group (token dispatch and combine), and its expert-data-parallel
/// group (the ranks holding the same experts, whose gradients are summed). Owns the sub-groups, not the world.
/// <para>
/// Under pipeline parallelism of degree P (world rank = replica · P + pipeline rank) the layout describes the
/// data-parallel replicas of this rank's stages — world / P of them, this one number <c>world rank / P</c> — and the
/// expert groups are made of ranks at the same pipeline position, which run the same program and so meet in the same
/// MoE layers in the same order.
/// </para>
/// </summary>
public sealed class ParallelContext : IDisposable
{
    public ParallelContext(ICommunicator world, int expertParallel = 1, int? ranksPerNode = null, int pipelineParallel = 1)
    {
        if (pipelineParallel < 1 || world.Size % pipelineParallel != 0)
            throw new InvalidArgumentException($"--pp {pipelineParallel}: must be at least 1 and divide the number of ranks ({world.Size})");
        World = world;
        PipelineParallel = pipelineParallel;
        PipelineRank = world.Rank % pipelineParallel;
        Layout = new ParallelLayout(world.Size / pipelineParallel, world.Rank / pipelineParallel, expertParallel, ranksPerNode);
        int replicas = Layout.WorldSize;
        ExpertGroup = world.Split(PipelineRank * replicas + Layout.ExpertGroup, world.Rank);
        ExpertDataGroup = world.Split(PipelineRank * replicas + Layout.ExpertRank, world.Rank);
    }

    /// <summary>Ranks per pipeline (1: none).</summary>
    public int PipelineParallel { get; }

    /// <summary>This rank's position in its pipeline.</summary>
    public int PipelineRank { get; }

    /// <summary>One process, no parallelism.</summary>
    public static ParallelContext Single() => new(new SingleProcessCommunicator());

    /// <summary>The data-parallel (and expert-parallel) arrangement of the ranks at this rank's pipeline position
    /// (the whole world without a pipeline).</summary>
    public ParallelLayout Layout { get; }
    public ICommunicator World { get; }
    public ICommunicator ExpertGroup { get; }
    public ICommunicator ExpertDataGroup { get; }

    public bool IsMain => World.Rank == 0;

    public void Dispose()
    {
        ExpertGroup.Dispose();
        ExpertDataGroup.Dispose();
    }
}
