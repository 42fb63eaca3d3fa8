using System.Security.Cryptography;
using System.Text;

namespace DeepSeekV3.Server;

/// <summary>The Bearer API key check. Keys are compared as SHA-256 digests with a fixed-time comparison, so the time
/// a wrong key takes says nothing about the right one, not even its length.</summary>
internal sealed class ApiKey(string key)
{
    private readonly byte[] _digest = SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Whether an Authorization header value is "Bearer KEY" with this key.</summary>
    public bool Accepts(string? authorization)
    {
        const string scheme = "Bearer ";
        string given = authorization is not null && authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            ? authorization[scheme.Length..].Trim()
            : "";
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), _digest);
    }
}
