namespace DeepSeekV3.Training.Data;

/// <summary>
/// Reads a file as lines of raw bytes (split on '\n', a trailing '\r' dropped), streaming, so a multi-gigabyte
/// .jsonl is never held whole and each line can be checked as UTF-8 and parsed as JSON without a string copy.
/// </summary>
internal static class Utf8LineReader
{
    /// <summary>Each line with its 1-based number and the bytes of the file consumed through it. A line's memory is
    /// valid only until the next line is read.</summary>
    public static IEnumerable<(ReadOnlyMemory<byte> Line, long Number, long BytesRead)> Lines(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        var buffer = new byte[1 << 16];
        int start = 0, end = 0, scanned = 0;                                              // [start, scanned) has no '\n'
        long number = 0, consumed = 0;
        while (true)
        {
            int found = buffer.AsSpan(scanned, end - scanned).IndexOf((byte)'\n');
            if (found >= 0)
            {
                int newline = scanned + found - start;
                consumed += newline + 1;
                yield return (Trim(buffer.AsMemory(start, newline)), ++number, consumed);
                start = scanned = start + newline + 1;
                continue;
            }
            scanned = end;
            if (start > 0)                                                                // keep the partial line
            {
                buffer.AsSpan(start, end - start).CopyTo(buffer);
                end -= start;
                scanned -= start;
                start = 0;
            }
            if (end == buffer.Length)
                Array.Resize(ref buffer, buffer.Length * 2);                               // a line longer than the buffer
            int read = stream.Read(buffer, end, buffer.Length - end);
            if (read == 0)
            {
                if (end > 0)
                    yield return (Trim(buffer.AsMemory(0, end)), ++number, consumed + end);
                yield break;
            }
            end += read;
        }
    }

    private static ReadOnlyMemory<byte> Trim(ReadOnlyMemory<byte> line) =>
        line.Length > 0 && line.Span[^1] == (byte)'\r' ? line[..^1] : line;
}
