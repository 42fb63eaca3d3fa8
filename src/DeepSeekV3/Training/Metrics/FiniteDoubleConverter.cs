using System.Text.Json;
using System.Text.Json.Serialization;

namespace DeepSeekV3.Training.Metrics;

/// <summary>
/// JSON has no NaN or ±Infinity (RFC 8259 §6), and System.Text.Json refuses to write them. A metric that has no
/// value (a skipped step's loss, a validation loss without validation data) is written as <c>null</c> and read
/// back as NaN, so every line of metrics.jsonl stays valid JSON for jq, pandas and json.loads.
/// </summary>
internal sealed class FiniteDoubleConverter : JsonConverter<double>
{
    public override bool HandleNull => true;

    public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

    public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
    {
        if (double.IsFinite(value)) writer.WriteNumberValue(value);
        else writer.WriteNullValue();
    }
}
