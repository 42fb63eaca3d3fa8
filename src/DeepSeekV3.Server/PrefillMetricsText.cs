using System.Text;
using DeepSeekV3.Inference.Serving;

namespace DeepSeekV3.Server;

/// <summary>/metrics of prefill workers (a prefill server's, or a colocated server's with --prefill-workers): queue
/// length, busy workers, prefills and cache bytes handed over, queue and prefill time.</summary>
internal static class PrefillMetricsText
{
    public static string Render(PrefillWorkers workers, string modelName)
    {
        var text = new StringBuilder();
        void Sample(string name, string type, string help, double value) => PrometheusText.Sample(text, modelName, name, type, help, value);
        Sample("dsv3:prefill_queue_length", "gauge", "Prompts waiting for a prefill worker.", workers.Queued);
        Sample("dsv3:prefill_workers_busy", "gauge", "Prefill workers prefilling now.", workers.Busy);
        Sample("dsv3:prefill_workers", "gauge", "Prefill worker threads.", workers.Workers);
        Sample("dsv3:prefills_total", "counter", "Prefills handed over to decoding.", workers.Prefilled);
        Sample("dsv3:prefill_kv_bytes_total", "counter", "Latent KV-cache bytes of the prefills handed over.", workers.RowBytes);
        PrometheusText.ModelHistogram(text, modelName, "dsv3:prefill_queue_time_seconds", "Arrival at the prefill queue to a worker taking it.", workers.QueueTime);
        PrometheusText.ModelHistogram(text, modelName, "dsv3:prefill_time_seconds", "The prefill pass (prompt, first token, cache export).", workers.PrefillTime);
        return text.ToString();
    }
}
