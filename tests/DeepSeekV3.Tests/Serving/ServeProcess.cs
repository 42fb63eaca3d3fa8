using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace DeepSeekV3.Tests.Serving;

/// <summary>A real `dsv3 serve` process (directly, or under mpiexec): its log, its address once it says where it
/// listens, and a kill on dispose.</summary>
internal sealed partial class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();
    private readonly TaskCompletionSource<Uri> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServeProcess(Process process) => _process = process;

    /// <summary>dsv3.dll beside the tests.</summary>
    public static string Dsv3 => Path.Combine(AppContext.BaseDirectory, "dsv3.dll");

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>`dotnet dsv3.dll serve ARGS` on one compute thread.</summary>
    public static ServeProcess Serve(params string[] args) => Start("dotnet", [Dsv3, "serve", "--threads", "1", .. args]);

    public static ServeProcess Start(string fileName, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) info.ArgumentList.Add(a);
        info.Environment["OMP_NUM_THREADS"] = "1";
        var server = new ServeProcess(Process.Start(info) ?? throw new InvalidOperationException($"cannot start {fileName}"));
        void Read(string? line)
        {
            if (line is null) return;
            lock (server._log) server._log.AppendLine(line);
            if (ListeningAt().Match(line) is { Success: true } m) server._address.TrySetResult(new Uri(m.Groups[1].Value));
        }
        server._process.OutputDataReceived += (_, e) => Read(e.Data);
        server._process.ErrorDataReceived += (_, e) => Read(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();
        return server;
    }

    /// <summary>The server's address once /health answers 200.</summary>
    public async Task<Uri> Ready(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        await Task.WhenAny(_address.Task, _process.WaitForExitAsync()).WaitAsync(timeout);
        if (!_address.Task.IsCompleted) throw new Xunit.Sdk.XunitException($"the server exited ({_process.ExitCode}):\n{Log}");
        var address = await _address.Task;
        using var http = new HttpClient { BaseAddress = address };
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited) throw new Xunit.Sdk.XunitException($"the server exited ({_process.ExitCode}):\n{Log}");
            try
            {
                using var health = await http.GetAsync("/health");
                if (health.IsSuccessStatusCode) return address;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(200);
        }
        throw new Xunit.Sdk.XunitException($"the server was not ready in {timeout.TotalSeconds:F0} s:\n{Log}");
    }

    /// <summary>Kills the process (and its children) now.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    [GeneratedRegex(@"listening at (http://\S+?)/? ")]
    private static partial Regex ListeningAt();
}
