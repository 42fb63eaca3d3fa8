using System.Text;
using System.Text.Json;
using DeepSeekV3.Server;
using Microsoft.AspNetCore.Http;

namespace DeepSeekV3.Tests.Serving;

/// <summary>The chat page at "/" in real headless chromium (<see cref="HeadlessChromium"/>) against the real server:
/// what the page shows must be what the API returns for the same request.</summary>
public class ChatPageTests(ServerFixture server) : IClassFixture<ServerFixture>
{
    private const int MaxTokens = 20;

    [Fact]
    public async Task Chat_page_is_served_at_root_without_a_key_loads_nothing_from_elsewhere_and_asks_for_a_key_only_if_needed()
    {
        using var anonymous = new HttpClient { BaseAddress = server.Server.Address };
        using var response = await anonymous.GetAsync("/");
        string html = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {html}");
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("default-src 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Contains("<meta name=\"dsv3-api-key\" content=\"required\">", html);   // the fixture's server has a key
        Assert.DoesNotContain(" src=", html);
        Assert.DoesNotContain("<link", html);
        Assert.DoesNotContain("innerHTML", html);
        Assert.Contains("<meta name=\"dsv3-api-key\" content=\"none\">", await PageOf(new ChatPage(needsKey: false, DefaultSampling.OpenAi)));
    }

    [Fact]
    public async Task The_page_s_sampling_fields_start_at_the_server_s_defaults()
    {
        // The bundled model's generation_config.json, read here on its own.
        using var file = JsonDocument.Parse(File.ReadAllText(Path.Combine(Inference.BundledModelTests.ModelDirectory(), "generation_config.json")));
        string temperature = file.RootElement.GetProperty("temperature").GetRawText(), topP = file.RootElement.GetProperty("top_p").GetRawText();
        Assert.NotEqual("1", temperature);
        using var response = await server.Http.GetAsync("/");
        string html = await response.Content.ReadAsStringAsync();
        Assert.Contains($"id=\"temperature\" type=\"number\" min=\"0\" max=\"2\" step=\"0.1\" value=\"{temperature}\"", html);
        Assert.Contains($"id=\"top-p\" type=\"number\" min=\"0\" max=\"1\" step=\"0.05\" value=\"{topP}\"", html);
        // Without the file: OpenAI's temperature 1 and top_p 1.
        string plain = await PageOf(new ChatPage(needsKey: false, DefaultSampling.OpenAi));
        Assert.Contains("id=\"temperature\" type=\"number\" min=\"0\" max=\"2\" step=\"0.1\" value=\"1\"", plain);
        Assert.Contains("id=\"top-p\" type=\"number\" min=\"0\" max=\"1\" step=\"0.05\" value=\"1\"", plain);
        Assert.DoesNotContain("{{", plain);

        // In the browser: the fields the page sends start at those values.
        await using var page = await HeadlessChromium.OpenAsync(server.Server.Address);
        var shown = await page.EvaluateAsync("({ t: requestBody().temperature, p: requestBody().top_p })");
        Assert.Equal(double.Parse(temperature, System.Globalization.CultureInfo.InvariantCulture), shown.GetProperty("t").GetDouble());
        Assert.Equal(double.Parse(topP, System.Globalization.CultureInfo.InvariantCulture), shown.GetProperty("p").GetDouble());
    }

    private static async Task<string> PageOf(ChatPage page)
    {
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        await page.Serve(context);
        return Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray());
    }

    [Fact]
    public async Task Page_streams_the_greedy_reply_and_sends_the_history_the_next_turn()
    {
        await using var page = await HeadlessChromium.OpenAsync(server.Server.Address);
        Assert.True((await page.EvaluateAsync("!document.getElementById('api-key-field').hidden")).GetBoolean(), "no API key field");

        // Without the key: the server's 401 is shown, and the failed turn is not kept.
        var refused = await Turn(page, "Tell me about the jury");
        Assert.Equal("msg error", refused.GetProperty("class").GetString());
        Assert.Equal("Incorrect API key provided.", refused.GetProperty("text").GetString());
        Assert.Equal(0, refused.GetProperty("history").GetInt32());

        await page.EvaluateAsync($$"""
            document.getElementById('api-key').value = {{JsonSerializer.Serialize(ServerFixture.Key)}};
            document.getElementById('temperature').value = '0';
            document.getElementById('max-tokens').value = '{{MaxTokens}}';
            """);
        var history = new List<object> { new { role = "user", content = "Tell me about the jury" } };
        var first = await Turn(page, "Tell me about the jury");
        Assert.Equal("msg assistant", first.GetProperty("class").GetString());
        Assert.Equal(await ApiReply(history), first.GetProperty("text").GetString());
        Assert.Equal(2, first.GetProperty("history").GetInt32());
        Assert.True(first.GetProperty("updates").GetInt32() > 1, "the reply was not shown as it streamed");

        // The second turn is sent with the first: its prompt is the whole conversation, and its reply the API's for it.
        // Markup in the message is shown as text.
        const string second = "<b>And the judge?</b> <img src=x onerror=alert(1)>";
        history.Add(new { role = "assistant", content = first.GetProperty("text").GetString() });
        history.Add(new { role = "user", content = second });
        double promptTokens = await server.Metric("vllm:prompt_tokens_total");
        var reply = await Turn(page, second);
        double sent = await server.Metric("vllm:prompt_tokens_total") - promptTokens;
        Assert.Equal((await server.PostJson("/tokenize", new { messages = history })).GetProperty("count").GetInt32(), sent);
        Assert.Equal(await ApiReply(history), reply.GetProperty("text").GetString());
        var user = await page.EvaluateAsync("(() => { const u = [...document.querySelectorAll('#log .msg.user')].pop(); return { text: u.textContent, children: u.childElementCount }; })()");
        Assert.Equal(second, user.GetProperty("text").GetString());
        Assert.Equal(0, user.GetProperty("children").GetInt32());
        Assert.Equal(0, reply.GetProperty("children").GetInt32());

        // The metrics panel (polled every 3 s) catches up with the server's count.
        string generated = (await server.Metric("vllm:generation_tokens_total")).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(generated, (await page.EvaluateAsync($$"""
            (async () => {
              for (let i = 0; i < 100 && document.getElementById('m-tokens').textContent !== '{{generated}}'; i++)
                await new Promise(r => setTimeout(r, 50));
              return document.getElementById('m-tokens').textContent;
            })()
            """)).GetString());

        // Stop ends the request; the unfinished turn is not kept.
        var stopped = await page.EvaluateAsync("""
            (async () => {
              document.getElementById('input').value = 'Tell me a long story';
              document.getElementById('send').click();
              document.getElementById('stop').click();
              while (document.body.dataset.state !== 'idle') await new Promise(r => setTimeout(r, 20));
              const last = [...document.querySelectorAll('#log .msg')].pop();
              return { class: last.className, text: last.textContent, history: messages.length };
            })()
            """);
        Assert.Equal("msg error", stopped.GetProperty("class").GetString());
        Assert.Equal("stopped", stopped.GetProperty("text").GetString());
        Assert.Equal(4, stopped.GetProperty("history").GetInt32());

        var reset = await page.EvaluateAsync("document.getElementById('reset').click(); ({ shown: document.querySelectorAll('#log .msg').length, history: messages.length })");
        Assert.Equal(0, reset.GetProperty("shown").GetInt32());
        Assert.Equal(0, reset.GetProperty("history").GetInt32());
    }

    /// <summary>Types <paramref name="text"/>, clicks Send, waits until the page is idle again, and returns the last
    /// message shown (class, text, child elements), the length of the page's conversation, and how many times the
    /// reply's text changed while it streamed.</summary>
    private static Task<JsonElement> Turn(HeadlessChromium page, string text) => page.EvaluateAsync($$"""
        (async () => {
          let updates = 0;
          const log = document.getElementById('log');
          const observer = new MutationObserver(changes => { updates += changes.filter(c => c.target.classList?.contains('assistant')).length; });
          observer.observe(log, { subtree: true, childList: true, characterData: true });
          document.getElementById('input').value = {{JsonSerializer.Serialize(text)}};
          document.getElementById('send').click();
          if (document.body.dataset.state !== 'streaming') throw new Error('send did not start a request');
          while (document.body.dataset.state !== 'idle') await new Promise(r => setTimeout(r, 20));
          observer.disconnect();
          const last = [...document.querySelectorAll('#log .msg')].pop();
          return { class: last.className, text: last.textContent, children: last.childElementCount, history: messages.length, updates };
        })()
        """);

    private async Task<string> ApiReply(List<object> messages) =>
        (await server.PostJson("/v1/chat/completions", new { messages, temperature = 0, max_tokens = MaxTokens }))
            .GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
}
