namespace DeepSeekV3.Evaluation;

/// <summary>
/// A code task as HumanEval writes one: <see cref="Prompt"/> is the start of a Python program (imports, a function
/// signature and docstring) that the model continues; <see cref="Test"/> defines <c>check(candidate)</c>, which
/// asserts on the function named <see cref="EntryPoint"/>.
/// </summary>
public sealed record CodeTask(string Prompt, string Test, string EntryPoint)
{
    /// <summary>The program the sandbox runs for one completion: prompt, completion, tests, then the call of
    /// <c>check</c> on the entry point (HumanEval's assembly).</summary>
    public string Program(string completion) =>
        $"{Prompt}{completion}\n\n{Test}\n\ncheck({EntryPoint})\n";
}
