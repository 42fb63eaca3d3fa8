namespace DeepSeekV3.Training.Grpo;

/// <summary>
/// GRPO's advantage (DeepSeekMath §4.1.2, outcome supervision; report §5.2.2): each completion's reward normalized
/// within its group, A_i = (r_i − mean(r)) / (std(r) + ε). std is the sample standard deviation (n − 1), and ε = 1e-4,
/// as HF TRL's GRPOTrainer computes it; a group whose rewards are all equal gets zero advantages (nothing to prefer).
/// </summary>
public static class GroupAdvantages
{
    public const double Epsilon = 1e-4;

    /// <param name="rewards">Rewards of consecutive groups of <paramref name="groupSize"/> completions.</param>
    public static double[] Compute(IReadOnlyList<double> rewards, int groupSize)
    {
        if (groupSize < 2 || rewards.Count % groupSize != 0)
            throw new ArgumentException($"{rewards.Count} rewards do not form groups of {groupSize} (at least 2)", nameof(rewards));
        var advantages = new double[rewards.Count];
        for (int start = 0; start < rewards.Count; start += groupSize)
        {
            double mean = 0, squares = 0;
            for (int i = start; i < start + groupSize; i++) mean += rewards[i] / groupSize;
            for (int i = start; i < start + groupSize; i++) squares += (rewards[i] - mean) * (rewards[i] - mean);
            double std = Math.Sqrt(squares / (groupSize - 1));
            for (int i = start; i < start + groupSize; i++)
                advantages[i] = (rewards[i] - mean) / (std + Epsilon);
        }
        return advantages;
    }
}
