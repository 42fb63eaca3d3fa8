using System.CommandLine;
using DeepSeekV3.Distributed;

namespace DeepSeekV3.Cli.Commands;

/// <summary>
/// `dsv3 mpi-check [--throw-on-rank R]`: runs every communicator operation and checks the results exactly. Run it
/// under `mpiexec.mpich -n N`; without mpiexec it checks the single-process communicator. Rank 0 prints one line
/// per check; an error on any rank ends the whole job (<see cref="FailFast"/>).
/// </summary>
internal static class MpiCheckCommand
{
    public static Command Create()
    {
        var throwOnRank = new Option<int?>("--throw-on-rank")
        {
            Description = "Make this rank fail after the first check while the others wait in a collective (tests the abort path)",
        };
        var command = new Command("mpi-check", "Check the MPI communicator: every collective, point to point, split, non-blocking") { throwOnRank };
        command.SetAction(result =>
        {
            var output = result.InvocationConfiguration.Output;
            bool verbose = result.GetValue<bool>("--verbose")
                || Environment.GetEnvironmentVariable(CliApp.VerboseVariable) is "1" or "true";
            using var world = Communicators.FromEnvironment();
            return FailFast.Run(world, () =>
            {
                void Report(string line)
                {
                    if (world.Rank == 0) output.WriteLine(line);
                }
                int passed = new CommunicatorCheck(world, Report, result.GetValue(throwOnRank)).Run();
                Report($"mpi-check: {passed} checks passed on {world.Size} ranks ({world.Description})");
                return 0;
            }, result.InvocationConfiguration.Error, verbose);
        });
        return command;
    }
}
