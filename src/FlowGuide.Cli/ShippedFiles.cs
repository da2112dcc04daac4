namespace FlowGuide.Cli;

/// <summary>
/// Where the CLI finds the files FlowGuide ships under models/ (the text-to-video model, RAFT-small, the MotionPrompt
/// discriminator) when no path is given: under $FLOWGUIDE_MODELS when set, else in the models/ folder of the nearest
/// ancestor of the executable (then of the working folder) that has the file. One rule for every default path.
/// </summary>
internal static class ShippedFiles
{
    public const string EnvironmentVariable = "FLOWGUIDE_MODELS";

    /// <summary>
    /// The path of <paramref name="relative"/> (e.g. "models/flowguide-small"); the first candidate that exists, otherwise
    /// the $FLOWGUIDE_MODELS or working-folder path, which the caller's loader then reports as missing.
    /// </summary>
    public static string Find(string relative)
    {
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        var underModels = relative.StartsWith("models/", StringComparison.Ordinal) ? relative["models/".Length..] : relative;
        if (!string.IsNullOrEmpty(env)) return Path.Combine(env, underModels);
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
            {
                var p = Path.Combine(d.FullName, relative);
                if (File.Exists(p) || Directory.Exists(p)) return p;
            }
        return Path.GetFullPath(relative);
    }
}
