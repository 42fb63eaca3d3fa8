using System.Diagnostics;
using System.Text.Json.Nodes;

namespace DeepSeekV3.Bench;

/// <summary>
/// A larger model with random weights for the load part (<c>--model-preset NAME</c>): the bundled model's config
/// scaled up, written by a real <c>dsv3 init</c> (bf16) into the git-ignored .data/serve-bench folder with the bundled
/// tokenizer beside it, and deleted on dispose. Random weights generate nonsense, but every request runs the same
/// passes a trained model of that shape would (ignore_eos keeps the lengths fixed).
/// </summary>
internal sealed class RandomModel : IDisposable
{
    /// <summary>Config fields over the bundled model's, by preset name.</summary>
    private static readonly Dictionary<string, Dictionary<string, int>> Presets = new()
    {
        // ≈190M parameters (≈40M activated per token): 8 layers of hidden 768, 32 routed experts of 256, top 4.
        ["random-190m"] = new()
        {
            ["hidden_size"] = 768,
            ["intermediate_size"] = 2048,
            ["num_hidden_layers"] = 8,
            ["num_attention_heads"] = 12,
            ["num_key_value_heads"] = 12,
            ["q_lora_rank"] = 384,
            ["kv_lora_rank"] = 256,
            ["qk_nope_head_dim"] = 64,
            ["qk_rope_head_dim"] = 32,
            ["v_head_dim"] = 64,
            ["moe_intermediate_size"] = 256,
            ["n_routed_experts"] = 32,
        },
    };

    private RandomModel(string directory) => Directory = directory;

    public static IEnumerable<string> Names => Presets.Keys;

    public string Directory { get; }

    public static RandomModel Create(string preset, string bundledModel)
    {
        if (!Presets.TryGetValue(preset, out var fields))
            throw new ArgumentException($"--model-preset {preset}: expected one of {string.Join(", ", Presets.Keys)}");
        string dir = Path.Combine(BenchPaths.RepoRoot(), ".data", "serve-bench", preset);
        if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, recursive: true);
        System.IO.Directory.CreateDirectory(dir);
        var model = new RandomModel(dir);
        try
        {
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(bundledModel, "config.json")))!.AsObject();
            foreach (var (name, value) in fields) config[name] = value;
            string configPath = Path.Combine(dir, "init-config.json");
            File.WriteAllText(configPath, config.ToJsonString());
            var clock = Stopwatch.StartNew();
            var init = Process.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "dsv3.dll"), "init", "--config", configPath, "--out", dir, "--dtype", "bf16"])
                       ?? throw new InvalidOperationException("cannot start dotnet dsv3.dll init");
            init.WaitForExit();
            if (init.ExitCode != 0) throw new InvalidOperationException($"dsv3 init exited with {init.ExitCode}");
            foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
                File.Copy(Path.Combine(bundledModel, file), Path.Combine(dir, file));
            Console.WriteLine($"{preset}: random model in {dir} ({clock.Elapsed.TotalSeconds:F0} s); deleted when the bench ends");
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        if (System.IO.Directory.Exists(Directory)) System.IO.Directory.Delete(Directory, recursive: true);
    }
}
