namespace FlowGuide.Media;

/// <summary>
/// A media file could not be read or written: the message is one line that names the file and what was expected
/// (a missing ffmpeg, a truncated or corrupt file, frames of different sizes, an unwritable output path).
/// </summary>
public sealed class MediaException : Exception
{
    /// <summary>The file or folder the error concerns, when there is one.</summary>
    public string? Path { get; }

    public MediaException(string message, string? path = null, Exception? inner = null) : base(message, inner) => Path = path;
}
