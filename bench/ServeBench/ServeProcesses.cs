using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace DeepSeekV3.Bench;

/// <summary>
/// Prefill/decode separation across processes as deployed: a real <c>dsv3 serve --role prefill</c> process and a real
/// <c>dsv3 serve --role decode --prefill URL</c> process (the front the clients talk to), each on
/// <c>threads</c> compute threads. On a machine with fewer cores than the two processes' threads they compete for
/// the same cores; the bench says so beside its figures.
/// </summary>
internal static partial class ServeProcesses
{
    /// <summary>dsv3.dll beside the bench (the project references the CLI).</summary>
    public static string Dsv3 => Path.Combine(AppContext.BaseDirectory, "dsv3.dll");

    /// <summary>Starts the prefill process, then the decode process pointed at it; both stop when the returned server is
    /// disposed. <paramref name="serveArgs"/> go to both (batch, chunk, prefix cache).</summary>
    public static async Task<BenchServer> StartPrefillDecode(string modelDir, int threads, params string[] serveArgs)
    {
        var prefill = Serve(["--role", "prefill", "--model", modelDir, "--threads", $"{threads}", .. serveArgs]);
        try
        {
            var prefillAddress = await prefill.Ready();
            var decode = Serve(["--role", "decode", "--prefill", prefillAddress.ToString(), "--model", modelDir, "--threads", $"{threads}", .. serveArgs]);
            try
            {
                var decodeAddress = await decode.Ready();
                return new BenchServer(decodeAddress, () =>
                {
                    decode.Dispose();
                    prefill.Dispose();
                    return ValueTask.CompletedTask;
                });
            }
            catch
            {
                decode.Dispose();
                throw;
            }
        }
        catch
        {
            prefill.Dispose();
            throw;
        }
    }

    private static Child Serve(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in (string[])[Dsv3, "serve", "--port", "0", "--api-key", BenchServer.Key, .. args]) info.ArgumentList.Add(a);
        var child = new Child(Process.Start(info) ?? throw new InvalidOperationException("cannot start dotnet dsv3.dll serve"));
        return child;
    }

    /// <summary>One serve process: its log, its address once it says where it listens, a kill on dispose.</summary>
    private sealed class Child : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _log = new();
        private readonly TaskCompletionSource<Uri> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Child(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => Read(e.Data);
            _process.ErrorDataReceived += (_, e) => Read(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        private void Read(string? line)
        {
            if (line is null) return;
            lock (_log) _log.AppendLine(line);
            if (ListeningAt().Match(line) is { Success: true } m) _address.TrySetResult(new Uri(m.Groups[1].Value));
        }

        /// <summary>The address once /health answers 200 (the model loaded).</summary>
        public async Task<Uri> Ready()
        {
            var timeout = TimeSpan.FromMinutes(5);
            var clock = Stopwatch.StartNew();
            await Task.WhenAny(_address.Task, _process.WaitForExitAsync()).WaitAsync(timeout);
            using var http = new HttpClient();
            while (clock.Elapsed < timeout && !_process.HasExited)
            {
                try
                {
                    using var health = await http.GetAsync(new Uri(await _address.Task, "/health"));
                    if (health.IsSuccessStatusCode) return await _address.Task;
                }
                catch (HttpRequestException)
                {
                    // not listening yet
                }
                await Task.Delay(200);
            }
            string log;
            lock (_log) log = _log.ToString();
            throw new InvalidOperationException($"dsv3 serve was not ready after {clock.Elapsed.TotalSeconds:F0} s:\n{log}");
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            _process.Dispose();
        }
    }

    [GeneratedRegex(@"listening at (http://\S+?)/? ")]
    private static partial Regex ListeningAt();
}
