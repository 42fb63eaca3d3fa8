namespace DeepSeekV3.Inference.Serving;

/// <summary>The engine cannot take a request now (its queue is full, or it is shutting down); trying later may work.</summary>
public sealed class ServerBusyException(string message) : DeepSeekV3Exception(message);
