namespace FlowGuide.Media.Tests;

/// <summary>Locates the repository (the folder holding FlowGuide.sln), its test data and ../shared/data.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Fixture(string name) => Path.Combine(RepoRoot, "tests", "FlowGuide.Media.Tests", "Data", name);

    /// <summary>
    /// ../shared/data relative to the repository root; a git worktree may sit deeper (wt/NAME), so the nearest ancestor
    /// of the root that holds shared/data is used.
    /// </summary>
    public static string Shared(string relative)
    {
        for (var d = new DirectoryInfo(RepoRoot).Parent; d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "shared", "data");
            if (Directory.Exists(candidate)) return Path.Combine(candidate, relative);
        }
        return Path.Combine(RepoRoot, "..", "shared", "data", relative);
    }

    private static string FindRepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "FlowGuide.sln"))) return d.FullName;
        throw new InvalidOperationException($"no FlowGuide.sln above {AppContext.BaseDirectory}");
    }
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
