namespace DeepSeekV3.Distributed;

/// <summary>A communicator self-check found a wrong result: the check, the rank, the element, expected vs found.</summary>
public sealed class CommunicatorCheckException(string message) : DeepSeekV3Exception(message);
