using System.Text.RegularExpressions;
using DeepSeekV3.Evaluation;

namespace DeepSeekV3.Training.Grpo;

/// <summary>
/// A rule-based reward (report §5.2.1: "for questions with deterministic results … the model is required to provide
/// the final answer in a designated format, enabling us to apply rules to verify the correctness"): 1 when the
/// completion's answer (<see cref="AnswerExtraction"/>) equals the reference, plus <see cref="FormatWeight"/> when the
/// completion is in the required format: only a number, ended by the end-of-sentence token.
/// </summary>
public sealed partial class AnswerReward(double formatWeight = 0.2)
{
    public double FormatWeight => formatWeight;

    [GeneratedRegex(@"^\s*-?\d+(\.\d+)?\s*$")]
    private static partial Regex NumberOnly();

    public static bool IsCorrect(string completion, string reference) => AnswerExtraction.Matches(completion, reference);

    public static bool IsWellFormed(string completion, bool endedWithEos) => endedWithEos && NumberOnly().IsMatch(completion);

    /// <param name="completion">The completion's text without special tokens.</param>
    public double Score(string completion, bool endedWithEos, string reference) =>
        (IsCorrect(completion, reference) ? 1 : 0) + (IsWellFormed(completion, endedWithEos) ? formatWeight : 0);
}
