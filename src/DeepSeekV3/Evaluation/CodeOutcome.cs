namespace DeepSeekV3.Evaluation;

/// <summary>How one completion of a code task fared in the <see cref="CodeSandbox"/>. Only <see cref="Passed"/>
/// counts as correct for pass@k.</summary>
public enum CodeOutcome
{
    /// <summary>The task's tests ran to the end without an error.</summary>
    Passed,

    /// <summary>A test assertion failed.</summary>
    Failed,

    /// <summary>The program did not compile, raised an exception other than a failed assertion, exited early, or
    /// was killed by a signal or a resource limit other than CPU time.</summary>
    Error,

    /// <summary>The wall-clock limit passed, or the CPU-seconds limit killed it.</summary>
    TimedOut,
}
