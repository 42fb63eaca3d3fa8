namespace DeepSeekV3.Training.Data;

/// <summary>One fine-tuning sequence: its tokens and, per token, whether it is a training target (an assistant
/// token) or context only.</summary>
public sealed record SupervisedExample(int[] Tokens, bool[] Trained)
{
    public int TrainedTokens => Trained.Count(t => t);
}
