namespace FlowGuide.Media.Tests;

/// <summary>This project's fixtures and the shared data (the search itself is <see cref="FlowGuide.TestSupport.RepoPaths"/>).</summary>
internal static class TestPaths
{
    public static string RepoRoot => FlowGuide.TestSupport.RepoPaths.RepoRoot;

    public static string Fixture(string name) => Path.Combine(RepoRoot, "tests", "FlowGuide.Media.Tests", "Data", name);

    public static string Shared(string relative) => FlowGuide.TestSupport.RepoPaths.SharedData(relative);
}

/// <summary>A fresh temporary directory deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fgmedia-" + Guid.NewGuid().ToString("N")[..12]);
    public TempDir() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    /// <summary>Names of everything in the directory (to check that no temporary file was left behind).</summary>
    public string[] Entries() => Directory.GetFileSystemEntries(Path).Select(System.IO.Path.GetFileName).ToArray()!;
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
