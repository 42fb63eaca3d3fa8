using DeepSeekV3.Distributed.Mpi;

namespace DeepSeekV3.Distributed;

/// <summary>Where a process gets its world communicator.</summary>
public static class Communicators
{
    /// <summary>
    /// The MPI world when an mpiexec launched this process (PMI_RANK/PMI_SIZE from MPICH's hydra, or
    /// OMPI_COMM_WORLD_SIZE from Open MPI), else a <see cref="SingleProcessCommunicator"/>: a plain
    /// <c>dotnet dsv3.dll</c> needs no MPI installed. Throws <see cref="MpiException"/> (with how to install MPICH)
    /// when launched by mpiexec but the library cannot be loaded. The caller owns (disposes) the result; disposing
    /// the MPI world finalizes MPI.
    /// </summary>
    public static ICommunicator FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <param name="environment">Reads one environment variable (null when unset).</param>
    public static ICommunicator FromEnvironment(Func<string, string?> environment) =>
        MpiLibraryChoice.LaunchedByMpiexec(environment)
            ? MpiCommunicator.InitializeWorld(MpiLibraryChoice.FromEnvironment(environment))
            : new SingleProcessCommunicator();
}
