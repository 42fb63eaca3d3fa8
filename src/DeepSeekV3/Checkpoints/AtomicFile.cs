namespace DeepSeekV3.Checkpoints;

/// <summary>
/// Writes a file so readers see either the old content or the complete new one: write "path.tmp-&lt;guid&gt;",
/// flush it to disk, then rename over the target. A failed write deletes its temporary file.
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, Action<Stream> writeContent)
    {
        string temporary = $"{path}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                writeContent(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }
}
