using ScottPlot;

namespace DeepSeekV3.Training.Metrics;

/// <summary>
/// PNG plots of a run's metrics (ScottPlot, rendered headless): train/validation loss, learning rate, MaxVio per
/// MoE layer, and an expert-load heatmap (rows: layer/expert, columns: steps, value: load relative to the mean).
/// </summary>
public static class TrainingPlots
{
    public static IReadOnlyList<string> Write(IReadOnlyList<StepMetrics> metrics, string directory)
    {
        Directory.CreateDirectory(directory);
        var written = new List<string>();
        if (metrics.Count == 0) return written;
        double[] steps = metrics.Select(m => (double)m.Step).ToArray();

        var loss = new Plot();
        AddLine(loss, steps, metrics.Select(m => m.Loss).ToArray(), "train loss");
        AddLine(loss, steps, metrics.Select(m => m.MtpLoss).ToArray(), "MTP loss");
        var evaluated = metrics.Where(m => m.ValidationLoss is double v && double.IsFinite(v)).ToList();
        if (evaluated.Count > 0)
            AddLine(loss, evaluated.Select(m => (double)m.Step).ToArray(), evaluated.Select(m => m.ValidationLoss!.Value).ToArray(), "validation loss", markers: true);
        written.Add(Save(loss, directory, "loss.png", "Loss", "cross-entropy (nats)"));

        var lr = new Plot();
        AddLine(lr, steps, metrics.Select(m => m.LearningRate).ToArray(), "learning rate");
        written.Add(Save(lr, directory, "lr.png", "Learning rate", "lr"));

        var layers = metrics[^1].MaxVioByLayer.Keys.OrderBy(int.Parse).ToList();
        if (layers.Count > 0)
        {
            var vio = new Plot();
            foreach (string layer in layers)
                AddLine(vio, steps, metrics.Select(m => m.MaxVioByLayer.GetValueOrDefault(layer)).ToArray(), $"layer {layer}");
            written.Add(Save(vio, directory, "max_vio.png", "MaxVio per MoE layer", "max load / mean load − 1"));
            written.Add(Heatmap(metrics, layers, directory));
        }
        return written;
    }

    /// <summary>Two or more runs' curves on one chart (e.g. aux-free vs aux-loss validation loss).</summary>
    public static string Compare(IReadOnlyList<(string Label, double[] X, double[] Y)> series, string path, string title, string yLabel)
    {
        var plot = new Plot();
        foreach (var (label, x, y) in series)
            AddLine(plot, x, y, label);
        return Save(plot, Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileName(path), title, yLabel);
    }

    private static string Heatmap(IReadOnlyList<StepMetrics> metrics, List<string> layers, string directory)
    {
        int experts = metrics[^1].ExpertLoad[layers[0]].Length;
        int columns = Math.Min(metrics.Count, 400), rows = layers.Count * experts;
        var values = new double[rows, columns];
        for (int c = 0; c < columns; c++)
        {
            var m = metrics[(int)((long)c * metrics.Count / columns)];
            for (int l = 0; l < layers.Count; l++)
                if (m.ExpertLoad.TryGetValue(layers[l], out var load))
                    for (int e = 0; e < experts && e < load.Length; e++)
                        values[l * experts + e, c] = load[e] * experts;                     // 1 = perfectly balanced
        }
        var plot = new Plot();
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap).Label = "load / mean load";
        plot.XLabel("step (sampled)");
        plot.YLabel($"layer × expert ({string.Join(", ", layers.Select(l => $"L{l}"))}, {experts} experts each)");
        plot.Title("Expert load");
        string path = Path.Combine(directory, "expert_load.png");
        plot.SavePng(path, 1000, 600);
        return path;
    }

    private static void AddLine(Plot plot, double[] x, double[] y, string label, bool markers = false)
    {
        var line = plot.Add.Scatter(x, y);
        line.LegendText = label;
        line.MarkerSize = markers ? 5 : 0;
    }

    private static string Save(Plot plot, string directory, string file, string title, string yLabel)
    {
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel(yLabel);
        plot.ShowLegend(Edge.Bottom);                                                      // outside the data area
        string path = Path.Combine(directory, file);
        plot.SavePng(path, 900, 500);
        return path;
    }
}
