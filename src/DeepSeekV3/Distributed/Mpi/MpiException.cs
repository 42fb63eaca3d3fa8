namespace DeepSeekV3.Distributed.Mpi;

/// <summary>
/// An MPI call failed, MPI could not be loaded, or a buffer cannot be sent the way it was asked (an element type MPI
/// has no datatype for, a reduction that would be wrong on raw bits). The message names the MPI function and, for a
/// failed call, MPI's own error text; <see cref="Call"/> and <see cref="ErrorCode"/> hold them for code.
/// </summary>
public sealed class MpiException : DeepSeekV3Exception
{
    public MpiException(string call, int errorCode, string mpiMessage)
        : base($"{call} failed with error {errorCode}: {mpiMessage}")
    {
        Call = call;
        ErrorCode = errorCode;
    }

    public MpiException(string call, string detail) : base($"{call}: {detail}")
    {
        Call = call;
    }

    public MpiException(string call, string detail, Exception inner) : base($"{call}: {detail}", inner)
    {
        Call = call;
    }

    /// <summary>The MPI function (or communicator method) that failed, e.g. "MPI_Allreduce".</summary>
    public string Call { get; }

    /// <summary>MPI's return code, or 0 when the error was raised before any MPI call.</summary>
    public int ErrorCode { get; }
}
