namespace DeepSeekV3.Tests.Distributed;

/// <summary>What an <see cref="MpiJob"/> left behind: the launcher's exit code, all ranks' output, wall time.</summary>
internal sealed record MpiJobResult(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    /// <summary>For assertion messages: everything the job printed.</summary>
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}
