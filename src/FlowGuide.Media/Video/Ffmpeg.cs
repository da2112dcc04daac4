using System.Diagnostics;
using System.Globalization;

namespace FlowGuide.Media;

/// <summary>What ffprobe reports about a file's first video stream.</summary>
public sealed record VideoProbe(int Width, int Height, double Fps, int? FrameCount, string Codec);

/// <summary>
/// Video and image I/O through the ffmpeg and ffprobe programs (found on PATH, or at FFMPEG_PATH / FFPROBE_PATH when
/// those environment variables are set). Frames travel as raw rgb24 through pipes; nothing is loaded as a library.
/// Reading takes the first video stream, with -noautorotate (rotation metadata is ignored: sizes are as stored) and
/// passthrough timing (no frames duplicated or dropped). Writing encodes H.264 (libx264, yuv420p, CRF 18) for
/// .mp4/.mov/.mkv and VP9 for .webm; yuv420p needs even sizes, so an odd width or height is padded by one pixel,
/// repeating the edge.
/// </summary>
public static class Ffmpeg
{
    public const string NotFoundMessage =
        "ffmpeg not found on PATH: install it (apt-get install ffmpeg) or write .gif/.y4m/png frames instead";

    private static readonly Lazy<string?> FfmpegPath = new(() => Locate("ffmpeg", "FFMPEG_PATH"));
    private static readonly Lazy<string?> FfprobePath = new(() => Locate("ffprobe", "FFPROBE_PATH"));

    /// <summary>True when both ffmpeg and ffprobe can be found.</summary>
    public static bool IsAvailable => FfmpegPath.Value is not null && FfprobePath.Value is not null;

    internal static string? Locate(string exe, string envVar)
    {
        string? env = Environment.GetEnvironmentVariable(envVar);
        if (!string.IsNullOrEmpty(env)) return File.Exists(env) ? env : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in OperatingSystem.IsWindows() ? new[] { exe + ".exe" } : new[] { exe })
            {
                string p = Path.Combine(dir, name);
                if (File.Exists(p)) return p;
            }
        }
        return null;
    }

    private static string Require(Lazy<string?> exe, string? file) =>
        exe.Value ?? throw new MediaException(file is null ? NotFoundMessage : $"'{file}': {NotFoundMessage}", file);

    /// <summary>Probes size, frame rate, frame count (when the container states it or packets can be counted) and codec.</summary>
    public static VideoProbe Probe(string path)
    {
        CheckInput(path, "video");
        Require(FfmpegPath, path);
        var (rc, stdout, stderr) = RunText(Require(FfprobePath, path), "-v", "error", "-select_streams", "v:0", "-count_packets",
            "-show_entries", "stream=width,height,r_frame_rate,avg_frame_rate,nb_frames,nb_read_packets,codec_name",
            "-of", "default=noprint_wrappers=1", path);
        var kv = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split('=', 2)).Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1]);
        if (rc != 0 || !kv.TryGetValue("width", out var ws) || !int.TryParse(ws, out int w) ||
            !kv.TryGetValue("height", out var hs) || !int.TryParse(hs, out int h) || w <= 0 || h <= 0)
            throw new MediaException($"cannot decode '{path}': {FirstLine(stderr, "ffprobe found no video stream")}; expected a video or image ffmpeg can decode.", path);
        double fps = Rate(kv.GetValueOrDefault("avg_frame_rate")) ?? Rate(kv.GetValueOrDefault("r_frame_rate")) ?? 25;
        int? frames = int.TryParse(kv.GetValueOrDefault("nb_frames"), out int nf) && nf > 0 ? nf
            : int.TryParse(kv.GetValueOrDefault("nb_read_packets"), out int np) && np > 0 ? np : null;
        return new VideoProbe(w, h, fps, frames, kv.GetValueOrDefault("codec_name") ?? "?");
    }

    /// <summary>
    /// Decodes the first video stream as RGB frames; <paramref name="maxFrames"/> stops early. The frame rate is the
    /// stream's average rate. A file that decodes to no frames is an error.
    /// </summary>
    public static RgbVideo ReadVideo(string path, int? maxFrames = null)
    {
        var probe = Probe(path);
        var args = new List<string> { "-v", "error", "-nostdin", "-noautorotate", "-i", path, "-map", "0:v:0" };
        if (maxFrames is int m) { if (m < 1) throw new ArgumentException($"Ffmpeg.ReadVideo: maxFrames {m} must be positive."); args.AddRange(new[] { "-frames:v", m.ToString(CultureInfo.InvariantCulture) }); }
        args.AddRange(new[] { "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-" });
        var frames = ReadRaw(path, args, probe.Width, probe.Height);
        if (frames.Count == 0) throw new MediaException($"cannot decode '{path}': ffmpeg produced no frames.", path);
        return new RgbVideo(probe.Width, probe.Height, probe.Fps, frames);
    }

    /// <summary>Decodes a still image (JPEG, BMP, WebP, ... anything ffmpeg reads; the first frame of a video).</summary>
    public static RgbFrame ReadImage(string path)
    {
        CheckInput(path, "image");
        var size = JpegSize(path);
        var (w, h) = size ?? ProbeSize(path);
        var frames = ReadRaw(path, new List<string> { "-v", "error", "-nostdin", "-i", path, "-frames:v", "1",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-" }, w, h);
        if (frames.Count == 0) throw new MediaException($"cannot decode image '{path}': ffmpeg produced no frame.", path);
        return new RgbFrame(w, h, frames[0]);
    }

    /// <summary>
    /// Decodes several images of one known size with a single ffmpeg process (concat demuxer); when that fails, each
    /// is decoded alone so that the error names the bad file.
    /// </summary>
    internal static List<byte[]> ReadImages(IReadOnlyList<string> paths, int w, int h)
    {
        if (paths.Count == 1) return new List<byte[]> { ReadImage(paths[0]).Pixels };
        string exe = Require(FfmpegPath, paths[0]);
        string list = Path.Combine(Path.GetTempPath(), $"flowguide-concat-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllLines(list, paths.Select(p => "file '" + Path.GetFullPath(p).Replace("'", "'\\''") + "'"));
            var frames = ReadRaw(paths[0], new List<string> { "-v", "error", "-nostdin", "-f", "concat", "-safe", "0", "-i", list,
                "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-" }, w, h);
            if (frames.Count == paths.Count) return frames;
        }
        catch (MediaException) { /* find the culprit below */ }
        finally { AtomicFile.TryDelete(list); }
        var result = new List<byte[]>();
        foreach (var p in paths)
        {
            var f = ReadImage(p);
            if (f.Width != w || f.Height != h)
                throw new MediaException($"image '{p}' is {f.Width}x{f.Height}; expected {w}x{h}.", p);
            result.Add(f.Pixels);
        }
        return result;
    }

    internal static (int W, int H)? JpegSize(string path)
    {
        Span<byte> head = stackalloc byte[3];
        using (var fs = File.OpenRead(path)) if (fs.ReadAtLeast(head, 3, throwOnEndOfStream: false) < 3) return null;
        return JpegHeader.IsJpeg(head) ? JpegHeader.TryReadSize(path) : null;
    }

    private static (int W, int H) ProbeSize(string path)
    {
        var p = Probe(path);
        return (p.Width, p.Height);
    }

    private static List<byte[]> ReadRaw(string path, List<string> args, int w, int h)
    {
        var psi = Start(Require(FfmpegPath, path), args, redirectIn: false);
        using var p = Process.Start(psi) ?? throw new MediaException($"cannot start ffmpeg for '{path}'.", path);
        var err = p.StandardError.ReadToEndAsync();
        var frames = new List<byte[]>();
        var stdout = p.StandardOutput.BaseStream;
        int size = w * h * 3;
        while (true)
        {
            var buf = new byte[size];
            int got = 0;
            while (got < size)
            {
                int n = stdout.Read(buf, got, size - got);
                if (n == 0) break;
                got += n;
            }
            if (got == 0) break;
            if (got < size) { p.WaitForExit(); throw new MediaException($"cannot decode '{path}': frame {frames.Count} ended after {got} of {size} bytes (expected {w}x{h} RGB; {FirstLine(err.Result, "no ffmpeg message")}).", path); }
            frames.Add(buf);
        }
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new MediaException($"cannot decode '{path}': {FirstLine(err.Result, $"ffmpeg exited with code {p.ExitCode}")}.", path);
        return frames;
    }

    /// <summary>
    /// Encodes <paramref name="video"/> to <paramref name="path"/> (.mp4/.mov/.mkv: H.264; .webm: VP9) by piping raw
    /// RGB frames to ffmpeg; the file appears only when ffmpeg succeeded. <paramref name="crf"/>: lower is better quality.
    /// </summary>
    public static void WriteVideo(string path, RgbVideo video, int crf = 18)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        var (format, codec) = ext switch
        {
            ".mp4" => ("mp4", new[] { "-c:v", "libx264", "-preset", "medium", "-movflags", "+faststart" }),
            ".mov" => ("mov", new[] { "-c:v", "libx264", "-preset", "medium" }),
            ".mkv" => ("matroska", new[] { "-c:v", "libx264", "-preset", "medium" }),
            ".webm" => ("webm", new[] { "-c:v", "libvpx-vp9", "-b:v", "0", "-row-mt", "1" }),
            _ => throw new MediaException($"cannot write '{path}': extension '{ext}' is not a video format ffmpeg output supports here; expected .mp4, .mov, .mkv or .webm.", path),
        };
        AtomicFile.CheckOutputPath(path, "video");
        string exe = Require(FfmpegPath, path);
        AtomicFile.WriteWithTemp(path, temp =>
        {
            int w = (video.Width + 1) & ~1, h = (video.Height + 1) & ~1;
            var args = new List<string> { "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                "-s", $"{w}x{h}", "-r", video.Fps.ToString("R", CultureInfo.InvariantCulture), "-i", "-" };
            args.AddRange(codec);
            args.AddRange(new[] { "-pix_fmt", "yuv420p", "-crf", crf.ToString(CultureInfo.InvariantCulture), "-f", format, temp });
            using var p = Process.Start(Start(exe, args, redirectIn: true)) ?? throw new MediaException($"cannot start ffmpeg for '{path}'.", path);
            var err = p.StandardError.ReadToEndAsync();
            var drain = p.StandardOutput.ReadToEndAsync();
            try
            {
                var stdin = p.StandardInput.BaseStream;
                foreach (var f in video.Frames) stdin.Write(PadToEven(f, video.Width, video.Height, w, h));
                stdin.Close();
            }
            catch (IOException) { /* ffmpeg exited early; its message says why */ }
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new MediaException($"cannot write '{path}': {FirstLine(err.Result, $"ffmpeg exited with code {p.ExitCode}")}.", path);
        }, "video", ext);
    }

    /// <summary>Repeats the last column and row to reach an even size (yuv420p needs one).</summary>
    private static byte[] PadToEven(byte[] rgb, int w, int h, int w2, int h2)
    {
        if (w == w2 && h == h2) return rgb;
        var o = new byte[w2 * h2 * 3];
        for (int y = 0; y < h2; y++)
        {
            int sy = Math.Min(y, h - 1);
            Array.Copy(rgb, sy * w * 3, o, y * w2 * 3, w * 3);
            if (w2 > w) Array.Copy(rgb, (sy * w + w - 1) * 3, o, (y * w2 + w) * 3, 3);
        }
        return o;
    }

    private static ProcessStartInfo Start(string exe, IEnumerable<string> args, bool redirectIn)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = redirectIn,
            UseShellExecute = false, CreateNoWindow = true,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    private static (int Rc, string Stdout, string Stderr) RunText(string exe, params string[] args)
    {
        using var p = Process.Start(Start(exe, args, redirectIn: false)) ?? throw new MediaException($"cannot start {exe}.");
        var err = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, err.Result);
    }

    private static void CheckInput(string path, string what)
    {
        if (Directory.Exists(path)) throw new MediaException($"cannot read {what} '{path}': it is a directory, expected a file.", path);
        if (!File.Exists(path)) throw new MediaException($"cannot read {what} '{path}': file not found.", path);
    }

    private static double? Rate(string? s)
    {
        if (s is null) return null;
        var parts = s.Split('/');
        if (parts.Length == 2 && double.TryParse(parts[0], CultureInfo.InvariantCulture, out double n) &&
            double.TryParse(parts[1], CultureInfo.InvariantCulture, out double d) && n > 0 && d > 0) return n / d;
        return double.TryParse(s, CultureInfo.InvariantCulture, out double v) && v > 0 ? v : null;
    }

    private static string FirstLine(string text, string fallback)
    {
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        return string.IsNullOrEmpty(line) ? fallback : line.Replace(Environment.NewLine, " ");
    }
}
