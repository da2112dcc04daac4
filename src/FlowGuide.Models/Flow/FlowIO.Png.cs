using FlowGuide.Media;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

public static partial class FlowIO
{
    /// <summary>
    /// Reads a KITTI flow PNG (16-bit RGB): u = (R - 2^15) / 64, v = (G - 2^15) / 64, and the pixel is valid where B &gt; 0.
    /// Returns the flow [1, 2, H, W] (0 at invalid pixels) and the mask [1, 1, H, W] (1 = valid). Throws
    /// <see cref="InvalidDataException"/> when the file is not a 16-bit PNG with at least three channels, and
    /// <see cref="MediaException"/> when it cannot be decoded.
    /// </summary>
    public static (Tensor Flow, Tensor Valid) ReadKittiFlow(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var png = PngReader.Read(path);
        return DecodeKittiFlow(png, path);
    }

    /// <summary>Decodes an already read KITTI flow PNG (see <see cref="ReadKittiFlow"/>); <paramref name="name"/> appears in errors.</summary>
    public static (Tensor Flow, Tensor Valid) DecodeKittiFlow(PngImage png, string name = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(png);
        if (png.BitDepth != 16 || png.Samples16 is null || png.Channels < 3)
            throw new InvalidDataException($"ReadKittiFlow: {name} is a {png.BitDepth}-bit PNG with {png.Channels} channel(s); a KITTI flow PNG is 16-bit RGB (u, v, valid).");
        int w = png.Width, h = png.Height, ch = png.Channels, plane = w * h;
        var flow = Tensor.Zeros(1, 2, h, w);
        var valid = Tensor.Zeros(1, 1, h, w);
        var f = flow.Span; var m = valid.Span; var s = png.Samples16;
        for (int i = 0; i < plane; i++)
        {
            if (s[i * ch + 2] == 0) continue;
            f[i] = (s[i * ch] - 32768) / 64f;
            f[plane + i] = (s[i * ch + 1] - 32768) / 64f;
            m[i] = 1f;
        }
        return (flow, valid);
    }

    /// <summary>
    /// Writes a KITTI flow PNG: the inverse of <see cref="ReadKittiFlow"/>, components rounded to 1/64 px and clamped to the
    /// representable range (about ±512 px). Unknown components (|value| &gt; 1e9) or a zero in <paramref name="valid"/>
    /// give B = 0.
    /// </summary>
    public static void WriteKittiFlow(string path, Tensor flow, Tensor? valid = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (h, w) = CheckFlow("WriteKittiFlow", flow, valid);
        int plane = h * w;
        var f = flow.Span; var m = valid is null ? default : valid.Span;
        var s = new ushort[plane * 3];
        for (int i = 0; i < plane; i++)
        {
            float u = f[i], v = f[plane + i];
            bool ok = (m.IsEmpty || m[i] != 0) && float.IsFinite(u) && float.IsFinite(v) && Math.Abs(u) <= UnknownThreshold && Math.Abs(v) <= UnknownThreshold;
            if (!ok) continue;
            s[3 * i] = Encode(u);
            s[3 * i + 1] = Encode(v);
            s[3 * i + 2] = 1;
        }
        PngWriter.Write(path, new PngImage(w, h, 3, s));

        static ushort Encode(float x) => (ushort)Math.Clamp(Math.Round(x * 64.0 + 32768), 0, 65535);
    }

    /// <summary>
    /// Writes the Middlebury colour coding of a flow ([1, 2, H, W] or [2, H, W]) as an 8-bit RGB PNG; see
    /// <see cref="FlowVisualization.ToRgb"/> for <paramref name="maxMagnitude"/>.
    /// </summary>
    public static void WriteFlowPng(string path, Tensor flow, float? maxMagnitude = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (h, w) = CheckFlow("WriteFlowPng", flow, null);
        PngWriter.WriteRgb8(path, w, h, FlowVisualization.ToRgb(flow, maxMagnitude));
    }
}

/// <summary>Loading frames for the flow estimators.</summary>
public static class FlowFrames
{
    /// <summary>
    /// Reads an image (PNG, PPM/PGM: whatever <see cref="ImageIO.Read"/> decodes) as [1, 3, H, W] in the given range.
    /// Throws <see cref="MediaException"/> for a file that cannot be decoded.
    /// </summary>
    public static Tensor Read(string path, PixelRange range = PixelRange.ZeroToOne)
    {
        var frame = ImageIO.Read(path);
        return FromRgb8(frame.Width, frame.Height, frame.Pixels, range);
    }

    /// <summary>Interleaved 8-bit RGB (row-major, H x W x 3) to [1, 3, H, W] in <paramref name="range"/>.</summary>
    public static Tensor FromRgb8(int width, int height, byte[] rgb, PixelRange range = PixelRange.ZeroToOne)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        if (width < 1 || height < 1 || rgb.Length != (long)width * height * 3)
            throw new ArgumentException($"FlowFrames.FromRgb8: {rgb.Length} bytes for a {width}x{height} image; expected {(long)width * height * 3} (RGB).");
        int plane = width * height;
        var t = Tensor.Empty(1, 3, height, width);
        var d = t.Span;
        float scale = range == PixelRange.ZeroToOne ? 1f / 255 : 2f / 255, offset = range == PixelRange.ZeroToOne ? 0 : -1;
        for (int i = 0; i < plane; i++)
            for (int c = 0; c < 3; c++)
                d[c * plane + i] = rgb[3 * i + c] * scale + offset;
        return t;
    }
}
