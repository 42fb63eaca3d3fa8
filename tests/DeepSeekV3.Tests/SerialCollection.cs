namespace DeepSeekV3.Tests;

/// <summary>Tests that measure the whole process (resident memory) run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialCollection
{
    public const string Name = "Serial";
}
