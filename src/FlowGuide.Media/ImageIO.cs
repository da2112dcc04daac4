namespace FlowGuide.Media;

/// <summary>
/// Still images as RGB: PNG and PPM/PGM natively (recognised by their magic bytes, whatever the extension), GIF's
/// first frame natively, anything else (JPEG, BMP, WebP, TIFF, ...) through ffmpeg.
/// </summary>
public static class ImageIO
{
    /// <summary>File extensions a frame folder treats as images.</summary>
    public static readonly IReadOnlySet<string> Extensions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        { ".png", ".ppm", ".pgm", ".pnm", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff" };

    public static RgbFrame Read(string path)
    {
        if (Directory.Exists(path)) throw new MediaException($"cannot read image '{path}': it is a directory, expected a file.", path);
        if (!File.Exists(path)) throw new MediaException($"cannot read image '{path}': file not found.", path);
        Span<byte> head = stackalloc byte[8];
        int n;
        using (var fs = File.OpenRead(path)) n = fs.ReadAtLeast(head, 8, throwOnEndOfStream: false);
        head = head[..n];
        if (PngReader.HasSignature(head)) return RgbFrame.From(PngReader.Read(path));
        if (n >= 2 && head[0] == 'P' && head[1] is (byte)'5' or (byte)'6') return RgbFrame.From(Pnm.Read(path));
        if (n >= 6 && head[..3].SequenceEqual("GIF"u8)) return GifReader.Read(path).Frame(0);
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext is ".png" or ".ppm" or ".pgm" or ".pnm")
            throw new MediaException($"cannot read image '{path}': not a {ext[1..].ToUpperInvariant()} file (wrong magic bytes).", path);
        return Ffmpeg.ReadImage(path);
    }

    /// <summary>Writes an RGB image as .png or .ppm (by extension), atomically.</summary>
    public static void Write(string path, RgbFrame frame)
    {
        var img = PngImage.FromRgb8(frame.Width, frame.Height, frame.Pixels);
        switch (Path.GetExtension(path).ToLowerInvariant())
        {
            case ".png": PngWriter.Write(path, img); break;
            case ".ppm": Pnm.Write(path, img); break;
            default: throw new MediaException($"cannot write image '{path}': expected a .png or .ppm extension.", path);
        }
    }
}
