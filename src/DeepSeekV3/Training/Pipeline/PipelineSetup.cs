using DeepSeekV3.Distributed;

namespace DeepSeekV3.Training.Pipeline;

/// <summary>What a trainer needs to run as one rank of a pipeline: the stage map, the communicator of its pipeline
/// (P ranks), and its program for a given number of micro-batches per step.</summary>
public sealed record PipelineSetup(PipelineStageMap Map, ICommunicator Group, Func<int, IReadOnlyList<PipelineInstruction>> Program);
