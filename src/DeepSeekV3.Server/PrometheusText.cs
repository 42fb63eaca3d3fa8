using System.Globalization;
using System.Text;
using DeepSeekV3.Inference;
using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Server;

/// <summary>
/// GET /metrics: the engine's state in the Prometheus text format (version 0.0.4), under vLLM's metric names
/// (docs/design/metrics.md), so dashboards made for vLLM read it. Every series has a model_name label.
/// </summary>
public static class PrometheusText
{
    public static string Render(ServingEngine engine, string modelName)
    {
        var text = new StringBuilder();
        string label = $"model_name=\"{Escape(modelName)}\"";
        var m = engine.Metrics;
        void Sample(string name, string type, string help, double value, string labels = "") =>
            PrometheusText.Sample(text, modelName, name, type, help, value, labels);
        Sample("vllm:num_requests_running", "gauge", "Requests in the decode batch.", engine.Running);
        Sample("vllm:num_requests_waiting", "gauge", "Requests waiting for admission.", engine.Waiting);
        Sample("vllm:kv_cache_usage_perc", "gauge", "Share of the KV-cache budget in use (1 = full).", engine.KvCacheUsage);
        Sample("vllm:prompt_tokens_total", "counter", "Prompt tokens of admitted requests.", m.PromptTokens);
        Sample("vllm:generation_tokens_total", "counter", "Generated tokens.", m.GenerationTokens);
        Sample("vllm:prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.", m.PrefixCacheQueries);
        Sample("vllm:prefix_cache_hits_total", "counter", "Prompt tokens found in the prefix cache.", m.PrefixCacheHits);
        Sample("vllm:spec_decode_num_drafts_total", "counter", "MTP drafts proposed.", m.SpecDecodeDrafts);
        Sample("vllm:spec_decode_num_draft_tokens_total", "counter", "MTP draft tokens proposed (one per draft).", m.SpecDecodeDrafts);
        Sample("vllm:spec_decode_num_accepted_tokens_total", "counter", "MTP draft tokens accepted.", m.SpecDecodeAcceptedTokens);
        if (engine.Speculation is { } rule)
        {
            text.Append("# HELP dsv3:decode_steps_total Decode steps of the batch, by whether MTP speculated (the per-step rule).\n")
                .Append("# TYPE dsv3:decode_steps_total counter\n");
            foreach (var (mode, steps) in new[] { ("mtp", rule.MtpSteps), ("plain", rule.PlainSteps) })
                text.Append("dsv3:decode_steps_total{").Append(label).Append(",mode=\"").Append(mode).Append("\"} ").Append(steps).Append('\n');
            Sample("dsv3:spec_decode_acceptance_estimate", "gauge", "The rule's estimate of the MTP draft acceptance rate.", rule.Acceptance);
        }
        text.Append("# HELP vllm:request_success_total Finished requests by finish reason.\n# TYPE vllm:request_success_total counter\n");
        foreach (var reason in Enum.GetValues<FinishReason>())
            text.Append("vllm:request_success_total{").Append(label).Append(",finished_reason=\"").Append(OpenAiJson.FinishReason(reason))
                .Append("\"} ").Append(m.Finished(reason)).Append('\n');
        Histogram(text, label, "vllm:time_to_first_token_seconds", "Arrival to first token.", m.TimeToFirstToken);
        Histogram(text, label, "vllm:inter_token_latency_seconds", "Between consecutive tokens of a request.", m.InterTokenLatency);
        Histogram(text, label, "vllm:e2e_request_latency_seconds", "Arrival to last token.", m.EndToEndLatency);
        Histogram(text, label, "vllm:request_queue_time_seconds", "Arrival to admission into the batch.", m.QueueTime);
        if (engine.SeparatePrefill)
        {
            Sample("dsv3:num_requests_prefilling", "gauge", "Requests whose prefill (worker or prefill server) is not handed over yet.", engine.Prefilling);
            Sample("dsv3:prefills_received_total", "counter", "Prefills handed over to this decode loop.", m.PrefillsHandedOver);
            Sample("dsv3:kv_transfer_bytes_total", "counter", "Latent KV-cache bytes received with prefills.", m.KvTransferBytes);
            Histogram(text, label, "dsv3:prefill_handover_seconds", "Arrival to the prefill handed over (queue, prefill, transfer).", m.PrefillHandover);
        }
        return text.ToString();
    }

    /// <summary>One histogram labelled with the model's name.</summary>
    public static void ModelHistogram(StringBuilder text, string modelName, string name, string help, Histogram histogram) =>
        Histogram(text, $"model_name=\"{Escape(modelName)}\"", name, help, histogram);

    private static void Histogram(StringBuilder text, string label, string name, string help, Histogram histogram)
    {
        var (cumulative, sum, count) = histogram.Snapshot();
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(" histogram\n");
        for (int i = 0; i < cumulative.Length; i++)
        {
            string bound = i < histogram.UpperBounds.Count ? Number(histogram.UpperBounds[i]) : "+Inf";
            text.Append(name).Append("_bucket{").Append(label).Append(",le=\"").Append(bound).Append("\"} ").Append(cumulative[i]).Append('\n');
        }
        text.Append(name).Append("_sum{").Append(label).Append("} ").Append(Number(sum)).Append('\n');
        text.Append(name).Append("_count{").Append(label).Append("} ").Append(count).Append('\n');
    }

    /// <summary>One series with its HELP and TYPE lines, labelled with the model's name; <paramref name="labels"/> adds
    /// more (",key=\"value\"").</summary>
    public static void Sample(StringBuilder text, string modelName, string name, string type, string help, double value, string labels = "")
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        text.Append(name).Append("{model_name=\"").Append(Escape(modelName)).Append('"').Append(labels).Append("} ")
            .Append(Number(value)).Append('\n');
    }

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string value) => value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n");
}
