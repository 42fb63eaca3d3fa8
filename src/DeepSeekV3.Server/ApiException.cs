namespace DeepSeekV3.Server;

/// <summary>
/// A request the server answers with an OpenAI-style error: <c>{"error": {"message", "type", "param", "code"}}</c>
/// and <see cref="Status"/>. Bad input is always one of these (4xx), never a 500.
/// </summary>
public sealed class ApiException(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public static ApiException BadRequest(string message, string? param = null) => new(400, message, param: param);
}
