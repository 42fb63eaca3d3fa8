using DeepSeekV3.Distributed;

namespace DeepSeekV3.Tests.Distributed;

/// <summary>The group of one behaves as an MPI communicator of size 1 would (MPI 4.0 standard, chapter 6).</summary>
public sealed class SingleProcessCommunicatorTests
{
    [Fact]
    public void Reductions_leave_the_buffer_as_it_is_and_gathers_copy()
    {
        using var world = new SingleProcessCommunicator();
        float[] x = [1.5f, -2f, 3f];
        world.AllReduce<float>(x, ReduceOp.Max);
        Assert.Equal([1.5f, -2f, 3f], x);
        var gathered = new float[3];
        world.AllGatherV<float>(x, gathered, [3]);
        Assert.Equal(x, gathered);
        var scattered = new float[3];
        world.ReduceScatter<float>(x, scattered, [3]);
        Assert.Equal(x, scattered);
        var exchanged = new float[3];
        world.AllToAllV<float>(x, [3], exchanged, [3]);
        Assert.Equal(x, exchanged);
    }

    [Fact]
    public void Messages_to_self_arrive_in_order_per_tag()
    {
        using var world = new SingleProcessCommunicator();
        world.Send<int>([1, 2], 0, tag: 5);
        world.Send<int>([7], 0, tag: 6);
        world.Send<int>([3, 4], 0, tag: 5);
        var a = new int[2];
        var b = new int[1];
        world.Receive<int>(b, 0, tag: 6);
        world.Receive<int>(a, 0, tag: 5);
        Assert.Equal([7], b);
        Assert.Equal([1, 2], a);
        world.Receive<int>(a, 0, tag: 5);
        Assert.Equal([3, 4], a);
    }

    [Fact]
    public void A_receive_with_nothing_sent_fails_instead_of_hanging()
    {
        using var world = new SingleProcessCommunicator();
        Assert.Throws<InvalidOperationException>(() => world.Receive<int>(new int[1], 0));
    }

    [Fact]
    public void Counts_and_ranks_are_checked_against_a_group_of_one()
    {
        using var world = new SingleProcessCommunicator();
        Assert.Throws<ArgumentException>(() => world.AllGatherV<int>(new int[2], new int[4], [2, 2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => world.Broadcast<int>(new int[1], root: 1));
        using var group = world.Split(color: 3, key: 0);
        Assert.Equal((0, 1), (group.Rank, group.Size));
    }

    [Fact]
    public void The_communicator_self_check_passes_in_one_process()
    {
        using var world = new SingleProcessCommunicator();
        var lines = new List<string>();
        int passed = new CommunicatorCheck(world, lines.Add).Run();
        Assert.Equal(lines.Count, passed);
        Assert.True(passed >= 10);
    }

    [Fact]
    public void In_one_process_FailFast_rethrows_for_the_usual_handler()
    {
        using var world = new SingleProcessCommunicator();
        var error = new StringWriter();
        Assert.Throws<InvalidArgumentException>(() =>
            FailFast.Run(world, () => throw new InvalidArgumentException("bad"), error, verbose: false));
        Assert.Equal("", error.ToString());
        Assert.Equal("rank 0/1: unexpected FormatException: a\nb".Replace("\n", " "),
            FailFast.Describe(world, new FormatException("a\nb")));
    }
}
