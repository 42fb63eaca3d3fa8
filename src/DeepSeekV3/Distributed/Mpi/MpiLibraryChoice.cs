namespace DeepSeekV3.Distributed.Mpi;

/// <summary>
/// Which MPI library a process should load, decided from its environment: <c>MPI_LIB</c> when set (a file name or
/// path; a name containing "libmpi.so.40" means Open MPI), else the launcher that started us — Open MPI's mpiexec
/// sets <c>OMPI_COMM_WORLD_SIZE</c>, MPICH's hydra sets <c>PMI_RANK</c>/<c>PMI_SIZE</c> — else MPICH. The library
/// must match the launcher: a process started by one implementation's mpiexec cannot join the other's job.
/// </summary>
public sealed record MpiLibraryChoice(string Library, MpiImplementation Implementation)
{
    public const string MpichLibrary = "libmpich.so.12";
    public const string OpenMpiLibrary = "libmpi.so.40";

    /// <summary>The environment variable that names the library explicitly.</summary>
    public const string LibraryVariable = "MPI_LIB";

    /// <param name="environment">Reads one environment variable (null when unset); tests pass a dictionary.</param>
    public static MpiLibraryChoice FromEnvironment(Func<string, string?> environment)
    {
        string? explicitLibrary = environment(LibraryVariable);
        if (!string.IsNullOrWhiteSpace(explicitLibrary))
        {
            bool openMpi = Path.GetFileName(explicitLibrary).StartsWith("libmpi.so.4", StringComparison.Ordinal);
            return new(explicitLibrary, openMpi ? MpiImplementation.OpenMpi : MpiImplementation.Mpich);
        }
        if (LaunchedByOpenMpi(environment)) return new(OpenMpiLibrary, MpiImplementation.OpenMpi);
        return new(MpichLibrary, MpiImplementation.Mpich);
    }

    /// <summary>True when an mpiexec (either implementation) started this process, i.e. it is one rank of a job.</summary>
    public static bool LaunchedByMpiexec(Func<string, string?> environment) =>
        LaunchedByOpenMpi(environment) || environment("PMI_RANK") is not null || environment("PMI_SIZE") is not null;

    private static bool LaunchedByOpenMpi(Func<string, string?> environment) => environment("OMPI_COMM_WORLD_SIZE") is not null;
}
