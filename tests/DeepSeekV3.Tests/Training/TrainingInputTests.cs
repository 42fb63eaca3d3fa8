using System.Text;
using DeepSeekV3.Cli;
using DeepSeekV3.Tests.Checkpoints;
using DeepSeekV3.Training.Data;

namespace DeepSeekV3.Tests.Training;

/// <summary>What `dsv3 train` does with inputs a new user may hand it: each bad one is a single typed error naming
/// the file (and line), exit code 2, and an existing run in --out is left byte for byte as it was.</summary>
public class TrainingInputTests
{
    private static readonly byte[] Latin1Line = Encoding.Latin1.GetBytes("café au lait\n");

    /// <summary>A case: the files it writes into the temp dir, the --data argument, extra options, and the text the
    /// error must contain.</summary>
    public static TheoryData<string> Cases() =>
    [
        "empty file", "empty directory", "binary file", "invalid UTF-8 text", "invalid UTF-8 jsonl", "jsonl without text",
        "jsonl with a number as text", "jsonl with a malformed line", "jsonl with an array line", "tokenizer is a text file",
        "tokenizer directory without tokenizer.json",
    ];

    private static (string Data, string[] Extra, string Expected) Arrange(string name, TempDirectory dir)
    {
        string notes = dir.File("notes.txt");
        File.WriteAllText(notes, string.Concat(Enumerable.Range(0, 20).Select(i => $"Note {i}: experts route tokens. ")));
        switch (name)
        {
            case "empty file":
                File.WriteAllText(dir.File("empty.txt"), "");
                return (dir.File("empty.txt"), [], $"--data: no text in {dir.File("empty.txt")}");
            case "empty directory":
                Directory.CreateDirectory(dir.File("nothing"));
                return (dir.File("nothing"), [], "nothing\": the directory holds no files");
            case "binary file":
                File.WriteAllBytes(dir.File("weights.bin"), [0x89, 0x50, 0x4E, 0x47, 0x00, 0x01, 0x02, 0xFF]);
                return (dir.File("weights.bin"), [], "weights.bin\": a binary file (NUL byte at offset 4)");
            case "invalid UTF-8 text":
                File.WriteAllBytes(dir.File("latin1.txt"), [.. "first line\n"u8, .. Latin1Line]);
                return (dir.File("latin1.txt"), [], "latin1.txt:2: invalid UTF-8 at byte 4 of the line");
            case "invalid UTF-8 jsonl":
                File.WriteAllBytes(dir.File("latin1.jsonl"), [.. "{\"text\": \"ok\"}\n{\"text\": \""u8, .. Latin1Line[..^1], .. "\"}\n"u8]);
                return (dir.File("latin1.jsonl"), [], "latin1.jsonl:2: invalid UTF-8 at byte 14 of the line");
            case "jsonl without text":
                File.WriteAllLines(dir.File("missing.jsonl"), ["{\"text\": \"one\"}", "{\"body\": \"two\"}"]);
                return (dir.File("missing.jsonl"), [], "missing.jsonl:2: no field \"text\"");
            case "jsonl with a number as text":
                File.WriteAllLines(dir.File("number.jsonl"), ["{\"text\": \"one\"}", "", "{\"text\": 3}"]);
                return (dir.File("number.jsonl"), [], "number.jsonl:3: field \"text\" is a number, expected a string");
            case "jsonl with a malformed line":
                File.WriteAllLines(dir.File("broken.jsonl"), ["{\"text\": \"one\"}", "{\"text\": \"two"]);
                return (dir.File("broken.jsonl"), [], "broken.jsonl:2: not valid JSON at byte");
            case "jsonl with an array line":
                File.WriteAllLines(dir.File("array.jsonl"), ["[\"one\", \"two\"]"]);
                return (dir.File("array.jsonl"), [], "array.jsonl:1: expected a JSON object with a string field \"text\", found an array");
            case "tokenizer is a text file":
                return (notes, ["--tokenizer", notes], "notes.txt: not valid JSON");
            case "tokenizer directory without tokenizer.json":
                Directory.CreateDirectory(dir.File("tok"));
                return (notes, ["--tokenizer", dir.File("tok")], "tokenizer.json not found");
            default:
                throw new ArgumentException(name);
        }
    }

    /// <summary>A run directory as a finished run leaves it (the loader is never reached on these paths).</summary>
    private static string ExistingRun(TempDirectory dir)
    {
        string run = dir.File("run");
        Directory.CreateDirectory(Path.Combine(run, "checkpoints", "step-00000002"));
        File.WriteAllText(Path.Combine(run, "checkpoints", "step-00000002", "trainer_state.json"), "{\"Step\": 2}");
        File.WriteAllText(Path.Combine(run, "metrics.jsonl"), "{\"step\":1,\"loss\":5.5}\n{\"step\":2,\"loss\":5.25}\n");
        return run;
    }

    private static Dictionary<string, string> Snapshot(string directory) =>
        Directory.EnumerateFileSystemEntries(directory, "*", SearchOption.AllDirectories)
            .ToDictionary(p => Path.GetRelativePath(directory, p), p => File.Exists(p) ? Convert.ToHexString(File.ReadAllBytes(p)) : "dir");

    private static (int Code, string Error) Train(string data, string run, string cache, params string[] extra)
    {
        var error = new StringWriter();
        int code = CliApp.Run(["train", "--preset", "tiny", "--data", data, "--out", run, "--token-cache", cache, "--steps", "3",
                               "--seq-len", "16", "--no-plots", .. extra], new StringWriter(), error);
        return (code, error.ToString());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_bad_input_is_one_clear_error_and_the_existing_run_survives(string name)
    {
        using var dir = new TempDirectory();
        var (data, extra, expected) = Arrange(name, dir);
        string run = ExistingRun(dir);
        var before = Snapshot(run);

        var (code, error) = Train(data, run, dir.File("cache"), [.. extra, "--resume"]);

        Assert.Equal(2, code);
        Assert.StartsWith("dsv3: error: ", error);
        Assert.Contains(expected, error);
        Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(before, Snapshot(run));
        Assert.False(Directory.Exists(dir.File("cache")) && Directory.EnumerateDirectories(dir.File("cache")).Any(),
            "no token shards (finished or temporary) are left for a failed input");
    }

    [Fact]
    public void Out_pointing_at_a_file_is_refused_and_the_file_is_unchanged()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("notes.txt"), "Experts route tokens to the top k of the scored experts.");
        File.WriteAllText(dir.File("run.txt"), "my notes");
        var (code, error) = Train(dir.File("notes.txt"), dir.File("run.txt"), dir.File("cache"));
        Assert.Equal(2, code);
        Assert.Contains("run.txt\": is a file; expected a run directory", error);
        Assert.Equal("my notes", File.ReadAllText(dir.File("run.txt")));
    }

    [Fact]
    public void A_fresh_start_over_an_existing_run_is_refused_without_resume()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("notes.txt"), string.Concat(Enumerable.Range(0, 20).Select(i => $"Note {i}: experts route tokens. ")));
        string run = ExistingRun(dir);
        var before = Snapshot(run);
        var (code, error) = Train(dir.File("notes.txt"), run, dir.File("cache"));
        Assert.Equal(2, code);
        Assert.Contains("already holds a run (step-00000002): add --resume to continue it, or choose another --out", error);
        Assert.Equal(before, Snapshot(run));
    }

    [Fact]
    public void Empty_files_beside_text_are_skipped()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("docs"));
        File.WriteAllText(dir.File(Path.Combine("docs", "a.txt")), "");
        File.WriteAllText(dir.File(Path.Combine("docs", "b.txt")), "hello");
        File.WriteAllText(dir.File(Path.Combine("docs", "c.jsonl")), "{\"text\": \"\"}\n\n{\"text\": \"world\"}\n");
        using var shards = TokenShardSet.Open([dir.File("docs")], new ByteTokenEncoder(), dir.File("cache"), null, out _);
        Assert.Equal(2, shards.Count);
        Assert.Equal("world"u8.ToArray().Select(b => (int)b), shards.Document(1).ToArray());
    }
}
