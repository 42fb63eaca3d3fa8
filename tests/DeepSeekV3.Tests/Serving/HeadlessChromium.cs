using System.Diagnostics;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace DeepSeekV3.Tests.Serving;

/// <summary>
/// Debian's real <c>chromium</c>, headless, driven over the Chrome DevTools Protocol
/// (https://chromedevtools.github.io/devtools-protocol/): started with <c>--remote-debugging-port=0</c> and a fresh
/// profile, the port read from the profile's DevToolsActivePort file, the page's target found at /json/list, and
/// JavaScript run in the page with Runtime.evaluate over one WebSocket. Only what the chat page's test needs.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string Install = "apt-get install -y --no-install-recommends chromium (or: bash scripts/setup.sh)";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly Process _process;
    private readonly DirectoryInfo _profile;
    private readonly StringBuilder _stderr;
    private readonly ClientWebSocket _socket = new();
    private int _nextId;

    private HeadlessChromium(Process process, DirectoryInfo profile, StringBuilder stderr)
    {
        _process = process;
        _profile = profile;
        _stderr = stderr;
    }

    /// <summary>Starts chromium on <paramref name="url"/> and waits until the page has loaded.</summary>
    public static async Task<HeadlessChromium> OpenAsync(Uri url)
    {
        string executable = FindOnPath("chromium")
            ?? throw new InvalidOperationException($"chromium is not installed; the chat page is tested in it: {Install}");
        var profile = Directory.CreateTempSubdirectory("dsv3-chromium-");
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // --no-sandbox: tests may run as root, where chromium's sandbox refuses to start.
        foreach (string arg in new[]
        {
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
            $"--user-data-dir={profile.FullName}", url.ToString(),
        })
            start.ArgumentList.Add(arg);
        var stderr = new StringBuilder();
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var browser = new HeadlessChromium(process, profile, stderr);
        try
        {
            await browser.ConnectAsync(url);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    private async Task ConnectAsync(Uri url)
    {
        var deadline = Stopwatch.StartNew();
        string portFile = Path.Combine(_profile.FullName, "DevToolsActivePort");
        int port = 0;
        while (port == 0)
        {
            if (_process.HasExited) throw new InvalidOperationException($"chromium exited with {_process.ExitCode}: {Stderr()}");
            if (deadline.Elapsed > StartTimeout) throw new TimeoutException($"chromium wrote no {portFile} in {StartTimeout.TotalSeconds} s: {Stderr()}");
            if (File.Exists(portFile) && File.ReadAllLines(portFile) is [var line, ..] && int.TryParse(line, out int p)) port = p;
            else await Task.Delay(50);
        }
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var targets = await http.GetFromJsonAsync<JsonElement>("/json/list");
        string page = targets.EnumerateArray().First(t => t.GetProperty("type").GetString() == "page")
            .GetProperty("webSocketDebuggerUrl").GetString()!;
        await _socket.ConnectAsync(new Uri(page), CancellationToken.None);
        string href = JsonSerializer.Serialize(url.ToString());
        while (!(await EvaluateAsync($"document.readyState === 'complete' && location.href === {href}")).GetBoolean())
        {
            if (deadline.Elapsed > StartTimeout) throw new TimeoutException($"{url} did not load in {StartTimeout.TotalSeconds} s");
            await Task.Delay(50);
        }
    }

    /// <summary>Runs <paramref name="expression"/> in the page, awaits it if it is a promise, and returns its value
    /// (as JSON). A JavaScript exception fails with its text.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        int id = ++_nextId;
        string command = JsonSerializer.Serialize(new
        {
            id,
            method = "Runtime.evaluate",
            @params = new { expression, awaitPromise = true, returnByValue = true },
        });
        await _socket.SendAsync(Encoding.UTF8.GetBytes(command), WebSocketMessageType.Text, true, cancel.Token);
        while (true)
        {
            var message = await ReceiveAsync(cancel.Token);
            if (!message.TryGetProperty("id", out var replyId) || replyId.GetInt32() != id) continue;     // an event
            if (message.TryGetProperty("error", out var error)) throw new InvalidOperationException($"Runtime.evaluate: {error}");
            var result = message.GetProperty("result");
            if (result.TryGetProperty("exceptionDetails", out var exception))
                throw new InvalidOperationException($"JavaScript threw: {exception}");
            var value = result.GetProperty("result");
            return value.TryGetProperty("value", out var v) ? v.Clone() : default;
        }
    }

    private async Task<JsonElement> ReceiveAsync(CancellationToken cancel)
    {
        var buffer = new byte[64 << 10];
        using var message = new MemoryStream();
        WebSocketReceiveResult received;
        do
        {
            received = await _socket.ReceiveAsync(buffer, cancel);
            if (received.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"chromium closed the DevTools socket: {Stderr()}");
            message.Write(buffer, 0, received.Count);
        }
        while (!received.EndOfMessage);
        return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
    }

    private string Stderr()
    {
        lock (_stderr) return _stderr.ToString().Trim();
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _profile.Delete(recursive: true);
    }
}
