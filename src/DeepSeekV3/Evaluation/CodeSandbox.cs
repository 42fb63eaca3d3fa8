using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace DeepSeekV3.Evaluation;

/// <summary>
/// Runs a generated Python program in a child process under limits, for pass@k.
/// <para>What it does: each program runs in <c>python3 -I</c> (isolated mode: no user site-packages, no
/// <c>PYTHON*</c> variables, the script's directory not on <c>sys.path</c>) with an empty environment apart from
/// <c>PATH</c> and <c>LANG</c>, in a fresh temporary directory that is deleted afterwards, stdin closed after a
/// one-line nonce, stdout and stderr going to a file. Before the program runs, a small runner sets hard rlimits: CPU seconds, address space
/// (<see cref="MemoryBytes"/>), file size 1 MB (which also bounds the output), no core dumps and no new processes
/// (RLIMIT_NPROC 0; since that limit does not bind root, <c>os.fork</c>, <c>os.system</c>, the <c>exec</c>/<c>spawn</c>
/// family, <c>os.kill</c> and <c>subprocess.Popen</c> are also replaced by functions that raise, as HumanEval's
/// reliability guard does). A wall-clock limit kills the whole process tree. The program passes only if
/// it exits 0 after printing the nonce the runner prints when <c>check</c> returns, so <c>sys.exit(0)</c> or
/// <c>os._exit(0)</c> inside the completion cannot pass (the nonce is read from stdin, which the program does not see).</para>
/// <para>What it does not do: no namespaces or seccomp, so the program can still open network connections, read any
/// file the user can read, write where the user can write (up to 1 MB per file), and, run as root, undo the Python
/// guards (via ctypes or by re-importing <c>_posixsubprocess</c>) to start processes. It guards against a model's
/// accidents (infinite loops, memory blow-ups, fork loops, stray output), not against code written to escape.
/// Run untrusted models' code in a container or VM.</para>
/// </summary>
public sealed class CodeSandbox
{
    // The runner: limits first, then the program; exit 1 for a failed assertion, 2 for any other exception
    // (SystemExit included: an early exit never reached the tests), 3 for a syntax error.
    private const string Runner = """
        import os, resource, sys, traceback
        nonce = sys.stdin.readline().strip()
        sys.stdin.close()
        output = os.open("output.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        cpu, memory = int(sys.argv[1]), int(sys.argv[2])
        for limit, value in ((resource.RLIMIT_CPU, cpu), (resource.RLIMIT_AS, memory),
                             (resource.RLIMIT_FSIZE, 1 << 20), (resource.RLIMIT_CORE, 0), (resource.RLIMIT_NPROC, 0)):
            resource.setrlimit(limit, (value, value))
        # RLIMIT_NPROC does not bind root, so process creation is also switched off in Python (HumanEval's guard).
        import os, subprocess
        def refuse(*args, **kwargs):
            raise PermissionError("the code sandbox does not allow new processes")
        for name in ("fork", "forkpty", "system", "popen", "execv", "execve", "execvp", "execvpe", "execl", "execle",
                     "execlp", "execlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe", "posix_spawn", "posix_spawnp", "kill", "killpg"):
            if hasattr(os, name):
                setattr(os, name, refuse)
        subprocess.Popen = refuse
        with open("program.py", encoding="utf-8") as f:
            source = f.read()
        try:
            code = compile(source, "program.py", "exec")
        except SyntaxError:
            traceback.print_exc()
            sys.exit(3)
        try:
            exec(code, {"__name__": "__main__"})
        except AssertionError:
            traceback.print_exc()
            sys.exit(1)
        except BaseException:
            traceback.print_exc()
            sys.exit(2)
        sys.stdout.write("\n" + nonce + "\n")
        sys.stdout.flush()
        """;

    private const int SigXcpu = 24;
    private readonly string _python;

    /// <param name="timeLimit">Wall-clock limit per program; the CPU-seconds limit is its ceiling.</param>
    /// <param name="memoryBytes">Address-space limit (RLIMIT_AS) of the Python process.</param>
    /// <param name="python">The interpreter to run (resolved once to its real path, so shims such as pyenv's need
    /// no environment).</param>
    public CodeSandbox(TimeSpan timeLimit, long memoryBytes = 512L << 20, string python = "python3")
    {
        if (timeLimit <= TimeSpan.Zero)
            throw new InvalidArgumentException($"code sandbox: time limit {timeLimit.TotalSeconds} s must be > 0");
        if (memoryBytes < 64L << 20)
            throw new InvalidArgumentException($"code sandbox: memory limit {memoryBytes} bytes is below Python's needs (64 MB at least)");
        TimeLimit = timeLimit;
        MemoryBytes = memoryBytes;
        _python = Resolve(python);
    }

    public TimeSpan TimeLimit { get; }

    public long MemoryBytes { get; }

    /// <summary>Runs <paramref name="program"/> and classifies how it ended.</summary>
    public CodeOutcome Run(string program)
    {
        var directory = Directory.CreateTempSubdirectory("dsv3-code-");
        try
        {
            File.WriteAllText(Path.Combine(directory.FullName, "program.py"), program, new UTF8Encoding(false));
            File.WriteAllText(Path.Combine(directory.FullName, "runner.py"), Runner, new UTF8Encoding(false));
            string nonce = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            int cpuSeconds = (int)Math.Ceiling(TimeLimit.TotalSeconds);
            var start = new ProcessStartInfo(_python)
            {
                WorkingDirectory = directory.FullName,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string argument in new[] { "-I", "runner.py", cpuSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), MemoryBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) })
                start.ArgumentList.Add(argument);
            start.Environment.Clear();
            start.Environment["PATH"] = "/usr/bin:/bin";
            start.Environment["LANG"] = "C.UTF-8";
            using var process = Process.Start(start)
                ?? throw new DeepSeekV3Exception($"code sandbox: could not start \"{_python}\"");
            // The runner moves stdout and stderr to output.txt before the program starts, so the program's output
            // is bounded by the file-size limit; the pipes only carry what Python prints before that.
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardInput.WriteLine(nonce);
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeLimit))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return CodeOutcome.TimedOut;
            }
            process.WaitForExit();
            _ = stdout.Result + stderr.Result;
            return process.ExitCode switch
            {
                0 when EndsWith(Path.Combine(directory.FullName, "output.txt"), nonce) => CodeOutcome.Passed,
                0 => CodeOutcome.Error,
                1 => CodeOutcome.Failed,
                128 + SigXcpu or -SigXcpu => CodeOutcome.TimedOut,
                _ => CodeOutcome.Error,
            };
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    /// <summary>Whether the file's last line is <paramref name="nonce"/> (reading only its tail).</summary>
    private static bool EndsWith(string path, string nonce)
    {
        if (!File.Exists(path)) return false;
        using var file = File.OpenRead(path);
        file.Seek(Math.Max(0, file.Length - 256), SeekOrigin.Begin);
        using var reader = new StreamReader(file, Encoding.UTF8);
        return reader.ReadToEnd().TrimEnd().EndsWith(nonce, StringComparison.Ordinal);
    }

    private static string Resolve(string python)
    {
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in new[] { "-I", "-c", "import sys; print(sys.executable)" })
            start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            string path = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return process.ExitCode == 0 && path.Length > 0
                ? path
                : throw new InvalidArgumentException($"code sandbox: \"{python}\" did not report its executable (exit {process.ExitCode})");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidArgumentException($"code sandbox: cannot run \"{python}\" ({e.Message}); pass@k needs Python 3");
        }
    }
}
