namespace DeepSeekV3.Bench;

/// <summary>The benchmarks' command line: <c>--name value</c> pairs (linked into each bench).</summary>
internal static class BenchArgs
{
    public static Dictionary<string, string> Parse(string[] args)
    {
        var map = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
                throw new ArgumentException($"expected --name value pairs, found \"{args[i]}\"");
            map[args[i][2..]] = args[++i];
        }
        return map;
    }
}
