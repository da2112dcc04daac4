namespace FlowGuide.Media;

/// <summary>
/// Writes outputs so that nothing is ever half-written: the content goes to a hidden temporary file in the target's
/// own directory (same file system, so the final rename is atomic) and is renamed over the target only when complete.
/// On any failure the temporary file is deleted and a <see cref="MediaException"/> names the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, which receives a fresh writable stream.</summary>
    public static void Write(string path, Action<Stream> write, string what = "file")
    {
        WriteWithTemp(path, temp =>
        {
            using var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
            write(fs);
        }, what);
    }

    /// <summary>
    /// Like <see cref="Write(string, Action{Stream}, string)"/>, but hands the temporary file's path to
    /// <paramref name="produce"/> (for an external program such as ffmpeg that writes the file itself).
    /// </summary>
    public static void WriteWithTemp(string path, Action<string> produce, string what = "file", string? tempExtension = null)
    {
        string full = CheckOutputPath(path, what);
        string dir = System.IO.Path.GetDirectoryName(full)!;
        string temp = System.IO.Path.Combine(dir,
            $".{System.IO.Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp{tempExtension ?? System.IO.Path.GetExtension(full)}");
        try
        {
            produce(temp);
            if (!File.Exists(temp)) throw new MediaException($"{what} '{path}': the writer produced no output.", path);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            TryDelete(temp);
            if (e is MediaException) throw;
            if (e is IOException or UnauthorizedAccessException)
                throw new MediaException($"cannot write {what} '{path}': {e.Message}", path, e);
            throw;
        }
    }

    /// <summary>Checks that the output's directory exists and is a directory; returns the full path.</summary>
    internal static string CheckOutputPath(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new MediaException($"cannot write {what}: the output path is empty.");
        string full = System.IO.Path.GetFullPath(path);
        string? dir = System.IO.Path.GetDirectoryName(full);
        if (dir is null) throw new MediaException($"cannot write {what} '{path}': it has no parent directory.", path);
        if (File.Exists(dir))
            throw new MediaException($"cannot write {what} '{path}': '{dir}' is a file, not a directory.", path);
        if (!Directory.Exists(dir))
            throw new MediaException($"cannot write {what} '{path}': directory '{dir}' does not exist.", path);
        if (Directory.Exists(full))
            throw new MediaException($"cannot write {what} '{path}': a directory of that name exists.", path);
        return full;
    }

    internal static void TryDelete(string file)
    {
        try { if (File.Exists(file)) File.Delete(file); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Reads a whole file, turning a missing or unreadable file into a <see cref="MediaException"/>.</summary>
    internal static byte[] ReadAll(string path, string what)
    {
        if (Directory.Exists(path)) throw new MediaException($"cannot read {what} '{path}': it is a directory, expected a file.", path);
        if (!File.Exists(path)) throw new MediaException($"cannot read {what} '{path}': file not found.", path);
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MediaException($"cannot read {what} '{path}': {e.Message}", path, e);
        }
    }
}
