namespace DeepSeekV3.Training.Pipeline;

/// <summary>The program each pipeline rank runs, from the schedule generator.</summary>
public static class PipelinePrograms
{
    /// <summary>Rank <paramref name="rank"/>'s program for a step of <paramref name="microBatches"/> micro-batches.</summary>
    public static IReadOnlyList<PipelineInstruction> For(PipelineStageMap map, int microBatches, int rank)
    {
        if (map.Kind != PipelineKind.OneFOneB)
            throw new NotImplementedException("TEMPORARY until the schedule generator is merged");
        int warmup = Math.Min(map.Ranks - rank - 1, microBatches);
        var program = new List<PipelineInstruction>();
        for (int m = 0; m < warmup; m++) program.Add(PipelineInstruction.F(0, m));
        for (int i = 0; i < microBatches - warmup; i++)
        {
            program.Add(PipelineInstruction.F(0, warmup + i));
            program.Add(PipelineInstruction.B(0, i));
        }
        for (int m = microBatches - warmup; m < microBatches; m++) program.Add(PipelineInstruction.B(0, m));
        return program;
    }
}
