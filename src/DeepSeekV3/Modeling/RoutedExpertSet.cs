using TorchSharp;
using static TorchSharp.torch;

namespace DeepSeekV3.Modeling;

/// <summary>
/// The routed experts one process holds, each registered under its global index, so that state-dict names are
/// the checkpoint's <c>experts.{i}.…</c> whether the process holds all experts or a shard (8..15, say).
/// (TorchSharp's ModuleDict would do, but its Module.to() fails on the dictionary's two indexers.)
/// </summary>
public sealed class RoutedExpertSet : nn.Module
{
    protected override void RegisterComponents() { }

    private readonly SortedDictionary<int, SwiGluMlp> _experts = [];

    public RoutedExpertSet(IEnumerable<(int Index, SwiGluMlp Expert)> experts) : base(nameof(RoutedExpertSet))
    {
        foreach (var (index, expert) in experts)
        {
            _experts.Add(index, expert);
            register_module(index.ToString(System.Globalization.CultureInfo.InvariantCulture), expert);
        }
    }

    public int Count => _experts.Count;

    /// <summary>The global indices held, ascending.</summary>
    public IReadOnlyCollection<int> Indices => _experts.Keys;

    public bool Contains(int index) => _experts.ContainsKey(index);

    public bool TryGet(int index, out SwiGluMlp expert) => _experts.TryGetValue(index, out expert!);
}
