namespace DeepSeekV3.Bench;

/// <summary>The MPI launcher: MPICH's, named explicitly because Debian's `mpiexec` may point at Open MPI.</summary>
internal static class MpiJobLauncher
{
    public const string Mpiexec = "mpiexec.mpich";
}
