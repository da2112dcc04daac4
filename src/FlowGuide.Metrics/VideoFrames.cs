using FlowGuide.Tensors;

namespace FlowGuide.Metrics;

/// <summary>
/// A video [3, F, H, W] in [-1, 1] (as the VAE decodes it) copied once into per-frame planar arrays [3, H, W], with the
/// conversions the metrics need: VBench's uint8 frames and Lai et al.'s [0, 1] pixels.
/// </summary>
public sealed class VideoFrames
{
    private readonly float[][] _frames;

    private VideoFrames(float[][] frames, int height, int width)
    {
        _frames = frames;
        Height = height;
        Width = width;
    }

    /// <summary>Number of frames F.</summary>
    public int Count => _frames.Length;

    public int Height { get; }

    public int Width { get; }

    /// <summary>Pixels per channel plane, H x W.</summary>
    public int Plane => Height * Width;

    /// <summary>Frame <paramref name="t"/> as a planar [3, H, W] array in [-1, 1] (shared, do not modify).</summary>
    public float[] this[int t] => _frames[t];

    /// <summary>
    /// Splits <paramref name="video"/> ([3, F, H, W], values in [-1, 1]) into frames; <paramref name="op"/> names the
    /// metric in error messages, <paramref name="minFrames"/> is the fewest frames that metric can score.
    /// </summary>
    public static VideoFrames From(Tensor video, string op, int minFrames = 2)
    {
        ArgumentNullException.ThrowIfNull(video);
        if (video.Rank != 4 || video.Size(0) != 3)
            throw new ArgumentException($"{op}: video has shape {video.Shape}, expected [3, F, H, W] (RGB, frames, height, width) in [-1, 1].");
        int f = video.Size(1), h = video.Size(2), w = video.Size(3);
        if (f < minFrames)
            throw new ArgumentException($"{op}: video has shape {video.Shape} with {f} frame(s), expected at least {minFrames}.");
        if (h < 2 || w < 2)
            throw new ArgumentException($"{op}: video has shape {video.Shape}, expected H, W >= 2.");
        int plane = h * w;
        var src = video.Span;
        var frames = new float[f][];
        for (int t = 0; t < f; t++)
        {
            var frame = new float[3 * plane];
            for (int c = 0; c < 3; c++)
                src.Slice((c * f + t) * plane, plane).CopyTo(frame.AsSpan(c * plane, plane));
            frames[t] = frame;
        }
        return new VideoFrames(frames, h, w);
    }

    /// <summary>Frame <paramref name="t"/> as a new tensor [1, 3, H, W] in [-1, 1] (allocated in the current tensor scope).</summary>
    public Tensor FrameTensor(int t) => Tensor.FromArray(_frames[t], 1, 3, Height, Width);

    /// <summary>
    /// Frame <paramref name="t"/> as VBench reads it: uint8 levels round((x + 1) / 2 * 255), clamped to [0, 255].
    /// </summary>
    public byte[] Uint8(int t) => ToUint8(_frames[t]);

    /// <summary>Maps planar [-1, 1] values to uint8 levels as <see cref="Uint8"/> does.</summary>
    public static byte[] ToUint8(ReadOnlySpan<float> x)
    {
        var b = new byte[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            float v = (x[i] + 1f) * 127.5f;
            b[i] = float.IsNaN(v) ? (byte)0 : (byte)Math.Clamp(MathF.Round(v, MidpointRounding.AwayFromZero), 0f, 255f);
        }
        return b;
    }

    /// <summary>Mean of |a - b| over all bytes (cv2.absdiff followed by np.mean).</summary>
    public static double MeanAbsDiff(byte[] a, byte[] b)
    {
        long sum = 0;
        for (int i = 0; i < a.Length; i++) sum += Math.Abs(a[i] - b[i]);
        return (double)sum / a.Length;
    }
}
