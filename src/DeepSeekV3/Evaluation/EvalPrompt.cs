using DeepSeekV3.Randomness;
using DeepSeekV3.Tokenization;

namespace DeepSeekV3.Evaluation;

/// <summary>
/// The text a question is asked with. Plain format (lm-evaluation-harness's default for base models):
/// <c>"Question: {q}\nAnswer:"</c>, the answer continuing after one space, each few-shot example a solved
/// question followed by a blank line. Chat format: the examples as earlier user/assistant turns of the model's chat
/// template, the answer directly after <c>&lt;｜Assistant｜&gt;</c>. Few-shot examples are the task's other items in
/// an order fixed by (seed, item), so a run is repeatable and no item is its own example.
/// </summary>
public sealed class EvalPrompt(EvalOptions options, string bosToken)
{
    /// <summary>Stop strings of a plain-format generation: the model starting the next example.</summary>
    public static IReadOnlyList<string> PlainStops { get; } = ["\n\n", "Question:"];

    /// <summary>The prompt for item <paramref name="index"/> of <paramref name="items"/>; <paramref name="solution"/>
    /// gives an example's answer text. The plain prompt carries no BOS (the tokenizer adds it); the chat one does.</summary>
    public string Render(IReadOnlyList<EvalItem> items, int index, Func<EvalItem, string> solution)
    {
        var shots = Shots(items.Count, index).Select(i => items[i]).ToList();
        var question = items[index].Question;
        if (options.Chat)
        {
            var messages = new List<ChatMessage>();
            foreach (var shot in shots)
            {
                messages.Add(ChatMessage.User(shot.Question));
                messages.Add(ChatMessage.Assistant(solution(shot)));
            }
            messages.Add(ChatMessage.User(question));
            return ChatTemplate.Render(messages, addGenerationPrompt: true, bosToken);
        }
        return string.Concat(shots.Select(s => $"Question: {s.Question}\nAnswer: {solution(s)}\n\n")) + $"Question: {question}\nAnswer:";
    }

    /// <summary>The continuation scored for an answer text: after a space in the plain format, as is in chat.</summary>
    public string Continuation(string answer) => options.Chat ? answer : " " + answer;

    /// <summary>The first <see cref="EvalOptions.Shots"/> indices of a seeded permutation of the other items.</summary>
    public IEnumerable<int> Shots(int count, int index)
    {
        if (options.Shots == 0) return [];
        if (options.Shots >= count)
            throw new InvalidArgumentException($"--shots {options.Shots}: the task has {count} items; at most {count - 1} can serve as examples");
        return SplitMix64.Permutation(count, options.Seed, index).Where(i => i != index).Take(options.Shots).Select(i => (int)i);
    }
}
