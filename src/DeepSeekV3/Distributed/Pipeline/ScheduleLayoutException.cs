namespace DeepSeekV3.Distributed.Pipeline;

/// <summary>
/// A pipeline layout the schedule cannot run (e.g. DualPipe on an odd number of ranks). <see cref="Rule"/> names the
/// rule broken, in the reference's terms; the message gives the values.
/// </summary>
public sealed class ScheduleLayoutException(string rule, string message) : DeepSeekV3Exception($"{message} ({rule})")
{
    public string Rule { get; } = rule;
}
