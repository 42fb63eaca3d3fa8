namespace DeepSeekV3.Tests.Distributed;

/// <summary>
/// `dsv3 ep-check` as real MPI jobs: expert parallel against one process, to fp32 reduction order (≤ 1e-5
/// relative). In one class so the launches run one after another instead of competing for the two cores.
/// </summary>
public sealed class EpCheckTests
{
    [Theory]
    [InlineData(2, "on", null)]
    [InlineData(2, "off", null)]
    [InlineData(4, "on", 2)]
    [InlineData(4, "off", 2)]
    public void Expert_parallel_matches_one_process(int ranks, string overlap, int? ranksPerNode)
    {
        string[] args = ranksPerNode is { } k
            ? ["ep-check", "--overlap", overlap, "--ranks-per-node", k.ToString()]
            : ["ep-check", "--overlap", overlap];
        var job = MpiJob.Run(ranks, args);
        Assert.True(job.ExitCode == 0, job.ToString());
        Assert.Contains($"{ranks} ranks: data parallel {ranks}, expert parallel {ranks}", job.Stdout);
        Assert.Contains($"{ranksPerNode ?? ranks} ranks per node, overlap {overlap}", job.Stdout);
        Assert.Contains("ep-check: passed", job.Stdout);
    }

    [Fact]
    public void Ep_check_runs_in_one_process_without_mpiexec()
    {
        var job = MpiJob.RunSingle("ep-check");
        Assert.True(job.ExitCode == 0, job.ToString());
        Assert.Contains("ep-check: passed", job.Stdout);
    }
}
