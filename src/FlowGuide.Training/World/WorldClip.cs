using FlowGuide.Tensors;

namespace FlowGuide.Training.World;

/// <summary>
/// The ground truth of one shape over a clip, one entry per frame: what a metric needs to follow the shape without
/// looking at pixels.
/// </summary>
public sealed class ShapeTrack
{
    /// <summary>Index into <see cref="ClipSpec.Shapes"/>; the shape's instance id is this plus one.</summary>
    public required int ShapeIndex { get; init; }

    public required ShapeKind Kind { get; init; }

    public required ColorName Color { get; init; }

    /// <summary>The exact unshaded RGB (the drawn colour is this times a factor in [0.75, 1] across the shape).</summary>
    public required Rgb Rgb { get; init; }

    /// <summary>Image pose per frame (centre and radius in pixels; the centre may be outside the frame).</summary>
    public required ShapePose[] Poses { get; init; }

    /// <summary>Exact silhouette area per frame in square pixels, whether or not it is visible.</summary>
    public required double[] Area { get; init; }

    /// <summary>Pixels per frame whose centre this shape owns (after occlusion and clipping at the frame border).</summary>
    public required int[] VisibleArea { get; init; }
}

/// <summary>
/// A rendered motion-world clip with its exact ground truth. Pixel (x, y) of a frame covers [x, x+1) x [y, y+1) in the
/// image plane; its owner is the front-most shape covering its centre (x + 0.5, y + 0.5), else the background.
/// </summary>
public sealed class WorldClip
{
    public required ClipSpec Spec { get; init; }

    /// <summary>The caption from <see cref="CaptionGrammar.Describe"/>.</summary>
    public required string Caption { get; init; }

    /// <summary>[3, F, H, W] RGB in [-1, 1], anti-aliased with 4 x 4 samples per pixel.</summary>
    public required Tensor Video { get; init; }

    /// <summary>
    /// [F-1, 2, H, W] exact forward flow (u, v) in pixels: the pixel centre's point at frame t is at centre + (u, v) at
    /// frame t + 1. Channel 0 is x (right), channel 1 is y (down); the layout <c>Ops.Warp</c> takes.
    /// </summary>
    public required Tensor Flow { get; init; }

    /// <summary>[F-1, H, W]: 1 where the point seen at frame t is not seen at t + 1 (hidden by a nearer shape or out of frame).</summary>
    public required Tensor Occlusion { get; init; }

    /// <summary>[F, H, W]: 0 for background, k + 1 where shape k owns the pixel centre.</summary>
    public required Tensor Instances { get; init; }

    /// <summary>One track per shape, in <see cref="ClipSpec.Shapes"/> order.</summary>
    public required IReadOnlyList<ShapeTrack> Tracks { get; init; }

    public int Frames => Spec.Frames;

    public int Height => Spec.Height;

    public int Width => Spec.Width;

    /// <summary>[F, H, W] with 1 where shape <paramref name="shapeIndex"/> owns the pixel centre, else 0.</summary>
    public Tensor Mask(int shapeIndex)
    {
        if (shapeIndex < 0 || shapeIndex >= Spec.Shapes.Count)
            throw new ArgumentOutOfRangeException(nameof(shapeIndex), $"WorldClip.Mask: shape {shapeIndex} is not in 0..{Spec.Shapes.Count - 1}.");
        var ids = Instances.Span;
        var mask = Tensor.Zeros(Instances.Shape);
        var m = mask.Span;
        float id = shapeIndex + 1;
        for (int i = 0; i < ids.Length; i++) m[i] = ids[i] == id ? 1f : 0f;
        return mask;
    }

    /// <summary>The video as [F, H, W, 3] bytes (see <see cref="VideoBytes.ToRgbBytes"/>).</summary>
    public byte[] ToRgbBytes() => VideoBytes.ToRgbBytes(Video);
}

/// <summary>Conversions between [3, F, H, W] float video in [-1, 1] and interleaved 8-bit RGB frames.</summary>
public static class VideoBytes
{
    /// <summary>
    /// [3, F, H, W] floats in [-1, 1] to [F, H, W, 3] bytes: round((v + 1) * 127.5), clamped to 0..255. Also takes a
    /// batch of one, [1, 3, F, H, W].
    /// </summary>
    public static byte[] ToRgbBytes(Tensor video)
    {
        var dims = video.Shape.ToArray();
        if (dims.Length == 5 && dims[0] == 1) dims = dims[1..];
        if (dims.Length != 4 || dims[0] != 3)
            throw new ArgumentException($"VideoBytes.ToRgbBytes: video has shape {video.Shape}, expected [3, F, H, W] or [1, 3, F, H, W].");
        int plane = dims[1] * dims[2] * dims[3];
        var src = video.Span;
        var bytes = new byte[plane * 3];
        for (int i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++)
        {
            double v = Math.Round(((double)src[c * plane + i] + 1) * 127.5);
            bytes[i * 3 + c] = (byte)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
        return bytes;
    }

    /// <summary>[F, H, W, 3] bytes to a [3, F, H, W] tensor in [-1, 1] (v / 127.5 - 1).</summary>
    public static Tensor FromRgbBytes(ReadOnlySpan<byte> bytes, int frames, int height, int width)
    {
        int plane = frames * height * width;
        if (frames < 1 || height < 1 || width < 1 || bytes.Length != plane * 3)
            throw new ArgumentException($"VideoBytes.FromRgbBytes: {bytes.Length} bytes do not hold {frames} frames of {height}x{width} RGB ({plane * 3} bytes).");
        var t = Tensor.Empty(3, frames, height, width);
        var d = t.Span;
        for (int i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++)
            d[c * plane + i] = (float)(bytes[i * 3 + c] / 127.5 - 1);
        return t;
    }
}
