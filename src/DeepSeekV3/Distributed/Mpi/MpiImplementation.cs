namespace DeepSeekV3.Distributed.Mpi;

/// <summary>
/// The two MPI ABIs we bind: MPICH's (libmpich.so.12 on Debian; the same ABI as Intel MPI, MVAPICH and Cray MPICH,
/// where the library is usually libmpi.so.12) with int handles, and Open MPI's (libmpi.so.40) with pointer handles.
/// </summary>
public enum MpiImplementation
{
    Mpich,
    OpenMpi,
}
