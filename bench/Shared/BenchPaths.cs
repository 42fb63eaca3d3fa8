namespace DeepSeekV3.Bench;

/// <summary>Where the benchmark programs find the repository and write their results (linked into each bench).</summary>
internal static class BenchPaths
{
    /// <summary>The folder holding DeepSeekV3.slnx above the bench binary, else the working directory.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DeepSeekV3.slnx")))
                return dir.FullName;
        return Directory.GetCurrentDirectory();
    }

    /// <summary>bench/results in the repository.</summary>
    public static string Results() => Path.Combine(RepoRoot(), "bench", "results");

    /// <summary>bench/results/<paramref name="file"/> in the repository.</summary>
    public static string Result(string file) => Path.Combine(Results(), file);
}
