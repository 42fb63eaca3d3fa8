namespace DeepSeekV3.Distributed;

/// <summary>
/// The communicators a rank needs for its <see cref="ParallelLayout"/>: the world (data parallel over dense
/// weights, global sums), its expert-parallel group (token dispatch and combine), and its expert-data-parallel
/// group (the ranks holding the same experts, whose gradients are summed). Owns the sub-groups, not the world.
/// </summary>
public sealed class ParallelContext : IDisposable
{
    public ParallelContext(ICommunicator world, int expertParallel = 1, int? ranksPerNode = null)
    {
        World = world;
        Layout = new ParallelLayout(world.Size, world.Rank, expertParallel, ranksPerNode);
        ExpertGroup = world.Split(Layout.ExpertGroup, world.Rank);
        ExpertDataGroup = world.Split(Layout.ExpertRank, world.Rank);
    }

    /// <summary>One process, no parallelism.</summary>
    public static ParallelContext Single() => new(new SingleProcessCommunicator());

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
