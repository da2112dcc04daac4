namespace FlowGuide.Media;

/// <summary>PNG colour types as stored in IHDR.</summary>
public enum PngColorType : byte { Gray = 0, Rgb = 2, Palette = 3, GrayAlpha = 4, Rgba = 6 }

/// <summary>
/// A decoded raster image: interleaved samples, row-major, <see cref="Channels"/> per pixel (1 gray, 2 gray+alpha,
/// 3 RGB, 4 RGBA), at 8 or 16 bits. Exactly one of <see cref="Samples8"/> and <see cref="Samples16"/> is set. The
/// reader expands palettes to RGB (RGBA when the file has a tRNS chunk) and scales 1/2/4-bit gray to 8 bits
/// (v * 255 / (2^d - 1)); <see cref="SourceColorType"/> and <see cref="SourceBitDepth"/> tell what the file held.
/// 16-bit samples are kept exactly (KITTI flow PNGs store u, v and validity as 16-bit RGB).
/// </summary>
public sealed class PngImage
{
    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    /// <summary>8 or 16: the width of one sample in <see cref="Samples8"/> or <see cref="Samples16"/>.</summary>
    public int BitDepth { get; }
    public byte[]? Samples8 { get; }
    public ushort[]? Samples16 { get; }
    public PngColorType SourceColorType { get; init; }
    public int SourceBitDepth { get; init; }

    /// <summary>An 8-bit image over <paramref name="samples"/> (length width*height*channels; not copied).</summary>
    public PngImage(int width, int height, int channels, byte[] samples)
    {
        Check(width, height, channels, samples.Length);
        (Width, Height, Channels, BitDepth, Samples8) = (width, height, channels, 8, samples);
        SourceColorType = DefaultColorType(channels);
        SourceBitDepth = 8;
    }

    /// <summary>A 16-bit image over <paramref name="samples"/> (length width*height*channels; not copied).</summary>
    public PngImage(int width, int height, int channels, ushort[] samples)
    {
        Check(width, height, channels, samples.Length);
        (Width, Height, Channels, BitDepth, Samples16) = (width, height, channels, 16, samples);
        SourceColorType = DefaultColorType(channels);
        SourceBitDepth = 16;
    }

    /// <summary>The colour type a writer uses for this many channels.</summary>
    public PngColorType ColorType => DefaultColorType(Channels);

    /// <summary>Sample c of pixel (x, y) as an integer in [0, 2^BitDepth - 1].</summary>
    public int this[int x, int y, int c]
    {
        get
        {
            if ((uint)x >= (uint)Width || (uint)y >= (uint)Height || (uint)c >= (uint)Channels)
                throw new ArgumentOutOfRangeException(nameof(x), $"PngImage[{x}, {y}, {c}]: outside {Width}x{Height}x{Channels}.");
            int i = (y * Width + x) * Channels + c;
            return Samples8 is not null ? Samples8[i] : Samples16![i];
        }
    }

    /// <summary>
    /// The image as 8-bit RGB (width*height*3 bytes): gray is replicated, alpha is dropped (not composited), 16-bit
    /// samples are rounded to the nearest 8-bit value (v * 255 / 65535).
    /// </summary>
    public byte[] ToRgb8()
    {
        int n = Width * Height;
        var rgb = new byte[n * 3];
        int ch = Channels;
        for (int p = 0; p < n; p++)
        {
            for (int c = 0; c < 3; c++)
            {
                int src = p * ch + (ch >= 3 ? c : 0);
                rgb[p * 3 + c] = Samples8 is not null ? Samples8[src] : (byte)((Samples16![src] * 255 + 32767) / 65535);
            }
        }
        return rgb;
    }

    /// <summary>Wraps interleaved 8-bit RGB (width*height*3 bytes, not copied).</summary>
    public static PngImage FromRgb8(int width, int height, byte[] rgb) => new(width, height, 3, rgb);

    internal static PngColorType DefaultColorType(int channels) => channels switch
    {
        1 => PngColorType.Gray, 2 => PngColorType.GrayAlpha, 3 => PngColorType.Rgb, 4 => PngColorType.Rgba,
        _ => throw new ArgumentException($"PngImage: {channels} channels; expected 1 to 4."),
    };

    private static void Check(int width, int height, int channels, int length)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"PngImage: size {width}x{height} must be positive.");
        if (channels < 1 || channels > 4) throw new ArgumentException($"PngImage: {channels} channels; expected 1 to 4.");
        if ((long)width * height * channels != length)
            throw new ArgumentException($"PngImage: {length} samples for {width}x{height}x{channels}; expected {(long)width * height * channels}.");
    }
}
