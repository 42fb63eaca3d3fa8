using System.Text.RegularExpressions;

namespace DeepSeekV3.Tests.Distributed;

/// <summary>
/// `dsv3 mpi-check` as real MPI jobs (MPICH; 4 ranks oversubscribe the 2 cores without flags). In one class so the
/// launches run one after another instead of competing for the cores.
/// </summary>
public sealed class MpiCheckTests
{
    [Fact]
    public void Mpi_check_passes_in_one_process_without_mpiexec()
    {
        var job = MpiJob.RunSingle("mpi-check");
        Assert.True(job.ExitCode == 0, job.ToString());
        Assert.Contains("checks passed on 1 ranks (single process)", job.Stdout);
    }

    [Theory]
    [InlineData(1)] // an MPI world of one: sends to self past the eager limit must not deadlock
    [InlineData(2)]
    [InlineData(4)]
    public void Mpi_check_passes_under_mpiexec(int ranks)
    {
        var job = MpiJob.Run(ranks, "mpi-check");
        Assert.True(job.ExitCode == 0, job.ToString());
        Assert.Matches($@"mpi-check: \d+ checks passed on {ranks} ranks \(MPICH [0-9.]+\)", job.Stdout);
        Assert.Contains("split: parity groups", job.Stdout);
        Assert.Contains("non-blocking", job.Stdout);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void An_error_on_one_rank_aborts_every_rank_and_is_reported_once(int ranks)
    {
        var job = MpiJob.Run(ranks, TimeSpan.FromSeconds(60), "mpi-check", "--throw-on-rank", "1");
        Assert.True(job.ExitCode != 0, job.ToString());
        Assert.True(job.Elapsed < TimeSpan.FromSeconds(30), job.ToString());
        Assert.Single(Regex.Matches(job.Stderr, $@"rank 1/{ranks}: failing on purpose"));
        Assert.DoesNotMatch(@"rank [02-9]/", job.Stderr);
        Assert.DoesNotContain("checks passed", job.Stdout);
    }
}
