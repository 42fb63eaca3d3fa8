namespace DeepSeekV3.Distributed;

/// <summary>
/// Makes an error on one rank end the whole job. Without it, a rank that throws simply exits while the others wait
/// forever in their next collective. With it, the failing rank prints one line, <c>rank R/N: message</c>, and calls
/// MPI_Abort, which kills every rank (including those blocked in a collective): the job exits non-zero within
/// seconds and the message is printed once, by the rank that failed. In a single process the exception is
/// rethrown for the caller's usual handling.
/// </summary>
public static class FailFast
{
    private static readonly TimeSpan OutputGrace = TimeSpan.FromMilliseconds(300);

    /// <param name="verbose">Print the exception's stack trace after the line.</param>
    /// <returns>The body's exit code.</returns>
    public static int Run(ICommunicator world, Func<int> body, TextWriter error, bool verbose)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (world.Size > 1)
        {
            error.WriteLine(Describe(world, e));
            if (verbose) error.WriteLine(e);
            error.Flush();
            // MPI_Abort tears the job down at once, and the launcher's proxy may die before it forwards what this
            // rank just wrote (seen under mpiexec.mpich: the line lost about once in 30 runs); give it a moment.
            Thread.Sleep(OutputGrace);
            world.Abort(1);
            return 1;
        }
    }

    /// <summary>"rank 1/4: message" on one line; exceptions that are not the library's typed errors also name their type.</summary>
    public static string Describe(ICommunicator world, Exception e)
    {
        string message = e is DeepSeekV3Exception or IOException ? e.Message : $"unexpected {e.GetType().Name}: {e.Message}";
        string line = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return $"rank {world.Rank}/{world.Size}: {line}";
    }
}
