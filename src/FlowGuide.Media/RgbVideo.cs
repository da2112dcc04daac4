using FlowGuide.Tensors;

namespace FlowGuide.Media;

/// <summary>One 8-bit RGB image: <see cref="Pixels"/> holds width*height*3 bytes, row-major, interleaved R, G, B.</summary>
public readonly record struct RgbFrame(int Width, int Height, byte[] Pixels)
{
    /// <summary>Converts any decoded image to RGB (see <see cref="PngImage.ToRgb8"/>).</summary>
    public static RgbFrame From(PngImage image) => new(image.Width, image.Height, image.ToRgb8());
}

/// <summary>
/// A decoded video as 8-bit RGB frames of one size plus its frame rate: the form every reader returns and every
/// writer takes. <see cref="ToTensor"/> and <see cref="FromTensor"/> convert to and from FlowGuide's video tensor,
/// [3, F, H, W] float in [-1, 1] (value = byte / 127.5 - 1; back: round((v + 1) * 127.5), clamped to 0..255).
/// </summary>
public sealed class RgbVideo
{
    public int Width { get; }
    public int Height { get; }
    /// <summary>Frames per second (a positive number; readers that do not know it use 25).</summary>
    public double Fps { get; }
    /// <summary>Frames of width*height*3 bytes each.</summary>
    public IReadOnlyList<byte[]> Frames { get; }
    public int FrameCount => Frames.Count;

    public RgbVideo(int width, int height, double fps, IReadOnlyList<byte[]> frames)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"RgbVideo: size {width}x{height} must be positive.");
        if (!(fps > 0) || double.IsInfinity(fps)) throw new ArgumentException($"RgbVideo: fps {fps} must be a positive number.");
        if (frames.Count == 0) throw new ArgumentException("RgbVideo: a video needs at least one frame.");
        for (int i = 0; i < frames.Count; i++)
            if (frames[i].Length != width * height * 3)
                throw new ArgumentException($"RgbVideo: frame {i} has {frames[i].Length} bytes; expected {width}x{height}x3 = {width * height * 3}.");
        (Width, Height, Fps, Frames) = (width, height, fps, frames);
    }

    public RgbFrame Frame(int index) => new(Width, Height, Frames[index]);

    /// <summary>The video tensor [3, F, H, W] in [-1, 1].</summary>
    public Tensor ToTensor()
    {
        int f = FrameCount, hw = Width * Height;
        var t = Tensor.Zeros(3, f, Height, Width);
        var dst = t.Span;
        var lut = new float[256];
        for (int i = 0; i < 256; i++) lut[i] = i / 127.5f - 1f;
        for (int k = 0; k < f; k++)
        {
            var src = Frames[k];
            for (int c = 0; c < 3; c++)
            {
                var plane = dst.Slice((c * f + k) * hw, hw);
                for (int p = 0; p < hw; p++) plane[p] = lut[src[p * 3 + c]];
            }
        }
        return t;
    }

    /// <summary>Converts a video tensor [3, F, H, W] (values in [-1, 1]; outside is clamped) to RGB frames.</summary>
    public static RgbVideo FromTensor(Tensor video, double fps)
    {
        if (video.Rank != 4 || video.Size(0) != 3)
            throw new ArgumentException($"RgbVideo.FromTensor: video {video.Shape} must be [3, F, H, W].");
        int f = video.Size(1), h = video.Size(2), w = video.Size(3), hw = h * w;
        var src = video.Span;
        var frames = new byte[f][];
        for (int k = 0; k < f; k++)
        {
            var rgb = frames[k] = new byte[hw * 3];
            for (int c = 0; c < 3; c++)
            {
                var plane = src.Slice((c * f + k) * hw, hw);
                for (int p = 0; p < hw; p++) rgb[p * 3 + c] = ToByte(plane[p]);
            }
        }
        return new RgbVideo(w, h, fps, frames);
    }

    /// <summary>Maps [-1, 1] to 0..255 with rounding and clamping (NaN maps to 0).</summary>
    public static byte ToByte(float v)
    {
        float x = (v + 1f) * 127.5f + 0.5f;
        return x >= 255f ? (byte)255 : x > 0f ? (byte)x : (byte)0;
    }
}
