using FlowGuide.Tensors;

namespace FlowGuide.Media;

/// <summary>
/// Reading and writing videos by path, dispatching on what the path is:
/// a folder (existing, or a path ending in a separator or without an extension when writing) = numbered PNG frames
/// (<see cref="FrameFolder"/>); .gif = native GIF; .y4m = native Y4M (4:2:0 jpeg siting, BT.601 limited range when
/// writing); .mp4/.mov/.mkv/.webm and any other extension when reading = ffmpeg; .png/.ppm/.pgm/.jpg = one image read
/// as a one-frame video (and written when the video has one frame).
/// The tensor form is [3, F, H, W] float in [-1, 1] (see <see cref="RgbVideo"/>).
/// </summary>
public static partial class VideoIO
{
    private static readonly HashSet<string> FfmpegWrite = new(StringComparer.OrdinalIgnoreCase) { ".mp4", ".mov", ".mkv", ".webm" };

    /// <summary>Reads a video as RGB frames with its frame rate; <paramref name="maxFrames"/> stops early.</summary>
    public static RgbVideo ReadFrames(string path, int? maxFrames = null, double folderFps = 25)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new MediaException("cannot read video: the path is empty.");
        if (Directory.Exists(path)) return FrameFolder.Read(path, folderFps, maxFrames);
        if (!File.Exists(path)) throw new MediaException($"cannot read video '{path}': file or folder not found.", path);
        string ext = Path.GetExtension(path).ToLowerInvariant();
        RgbVideo v = ext switch
        {
            ".gif" => GifReader.Read(path),
            ".y4m" => Y4m.Read(path),
            _ when ImageIO.Extensions.Contains(ext) => Single(ImageIO.Read(path), folderFps),
            _ => Ffmpeg.ReadVideo(path, maxFrames),
        };
        return maxFrames is int m && m >= 1 && v.FrameCount > m ? new RgbVideo(v.Width, v.Height, v.Fps, v.Frames.Take(m).ToArray()) : v;
    }

    /// <summary>Reads a video as a tensor [3, F, H, W] in [-1, 1].</summary>
    public static Tensor Read(string path) => ReadFrames(path).ToTensor();

    /// <summary>Reads a video as a tensor [3, F, H, W] in [-1, 1] and reports its frame rate.</summary>
    public static Tensor Read(string path, out double fps)
    {
        var v = ReadFrames(path);
        fps = v.Fps;
        return v.ToTensor();
    }

    /// <summary>Writes a video tensor [3, F, H, W] (values in [-1, 1], clamped) at <paramref name="fps"/>; never leaves a partial output.</summary>
    public static void Write(string path, Tensor video, double fps) => WriteFrames(path, RgbVideo.FromTensor(video, fps));

    public static void WriteFrames(string path, RgbVideo video)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new MediaException("cannot write video: the path is empty.");
        string ext = Path.GetExtension(Path.TrimEndingDirectorySeparator(path)).ToLowerInvariant();
        bool folder = Directory.Exists(path) || Path.EndsInDirectorySeparator(path) || ext.Length == 0;
        if (folder) { FrameFolder.Write(path, video); return; }
        switch (ext)
        {
            case ".gif": GifWriter.Write(path, video); return;
            case ".y4m": Y4m.Write(path, video); return;
            case ".png" or ".ppm" when video.FrameCount == 1: ImageIO.Write(path, video.Frame(0)); return;
            case ".png" or ".ppm":
                throw new MediaException($"cannot write '{path}': a {ext} file holds one image but the video has {video.FrameCount} frames; write a folder (a path without extension) instead.", path);
        }
        if (FfmpegWrite.Contains(ext)) { Ffmpeg.WriteVideo(path, video); return; }
        throw new MediaException($"cannot write video '{path}': unknown extension '{ext}'; expected .gif, .y4m, .mp4, .mov, .mkv, .webm or a folder.", path);
    }

    private static RgbVideo Single(RgbFrame f, double fps) => new(f.Width, f.Height, fps, new[] { f.Pixels });
}
