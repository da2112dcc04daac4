namespace FlowGuide.TestSupport;

/// <summary>
/// Locates the checkout (the folder holding FlowGuide.sln) and the project's shared data (../shared/data beside it).
/// Linked into each test project that reads shared data, so there is one copy of the search.
/// </summary>
internal static class RepoPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// shared/data/<paramref name="relative"/> in the nearest ancestor of the checkout that has shared/data (a git worktree
    /// may sit deeper than the usual ../shared).
    /// </summary>
    public static string SharedData(string relative)
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
