namespace FlowGuide.SafeTensors;

/// <summary>
/// The one exception the SafeTensors readers throw for malformed content: a truncated file, a bad header length, a
/// header that is not valid UTF-8 JSON of the expected form, an unknown dtype, offsets that do not tile the data section,
/// duplicate names, or an inconsistent sharded index. The message names the file and the problem.
/// </summary>
/// <remarks>
/// Derives from <see cref="FormatException"/> (<see cref="InvalidDataException"/> is sealed). I/O failures (a missing file, a permission error) surface as the usual <see cref="IOException"/> subclasses instead.
/// </remarks>
public sealed class SafeTensorsFormatException : FormatException
{
    public SafeTensorsFormatException(string path, string problem, Exception? inner = null)
        : base($"SafeTensors: '{path}': {problem}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file (or index) whose content is malformed.</summary>
    public string FilePath { get; }

    /// <summary>The problem alone, without the file name.</summary>
    public string Problem { get; }
}
