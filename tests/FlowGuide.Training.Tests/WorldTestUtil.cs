using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training.Tests;

/// <summary>Helpers shared by the motion-world tests: slicing clips and the warp-back flow check.</summary>
internal static class WorldTestUtil
{
    /// <summary>Frame t of a [3, F, H, W] video as [1, 3, H, W].</summary>
    public static Tensor Frame(WorldClip clip, int t)
    {
        int f = clip.Frames, plane = clip.Height * clip.Width;
        var src = clip.Video.Span;
        var dst = new float[3 * plane];
        for (int c = 0; c < 3; c++) src.Slice((c * f + t) * plane, plane).CopyTo(dst.AsSpan(c * plane));
        return Tensor.FromArray(dst, 1, 3, clip.Height, clip.Width);
    }

    /// <summary>Flow of pair t as [1, 2, H, W].</summary>
    public static Tensor FlowPair(WorldClip clip, int t)
    {
        int plane = clip.Height * clip.Width;
        return Tensor.FromArray(clip.Flow.Span.Slice(t * 2 * plane, 2 * plane).ToArray(), 1, 2, clip.Height, clip.Width);
    }

    public static int Id(WorldClip clip, int t, int y, int x) =>
        (int)clip.Instances.Span[(t * clip.Height + y) * clip.Width + x];

    /// <summary>Whether every pixel within <paramref name="margin"/> of (x, y) exists and has instance id <paramref name="id"/>.</summary>
    public static bool Uniform(WorldClip clip, int t, int x, int y, int margin, int id)
    {
        for (int dy = -margin; dy <= margin; dy++)
        for (int dx = -margin; dx <= margin; dx++)
        {
            int xx = x + dx, yy = y + dy;
            if (xx < 0 || yy < 0 || xx >= clip.Width || yy >= clip.Height) return false;
            if (Id(clip, t, yy, xx) != id) return false;
        }
        return true;
    }

    /// <summary>Result of warping frame t + 1 back to frame t with a flow.</summary>
    public readonly record struct WarpStats(double MaxError, double MeanError, int Pixels, int ShapePixels);

    /// <summary>
    /// Warps frame t + 1 back with <paramref name="flow"/> (the clip's own when null) and compares it with frame t at
    /// pixels that are not occluded, whose 5x5 neighbourhood at t has one owner, and whose destination's 5x5
    /// neighbourhood at t + 1 has the same owner: away from every edge, where bilinear sampling is exact up to texture
    /// curvature.
    /// </summary>
    public static WarpStats WarpBack(WorldClip clip, int t, Tensor? flow = null)
    {
        var exactFlow = FlowPair(clip, t);
        flow ??= exactFlow;
        var warped = Ops.Warp(Frame(clip, t + 1), flow);
        var frame = Frame(clip, t);
        int h = clip.Height, w = clip.Width, plane = h * w;
        var ws = warped.Span;
        var fs = frame.Span;
        var fl = exactFlow.Span;
        var occ = clip.Occlusion.Span;
        double max = 0, sum = 0;
        int n = 0, shapePixels = 0;
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
        {
            int i = y * w + x;
            if (occ[t * plane + i] != 0) continue;
            int id = Id(clip, t, y, x);
            if (!Uniform(clip, t, x, y, 2, id)) continue;
            int tx = (int)Math.Floor(x + fl[i] + 0.5), ty = (int)Math.Floor(y + fl[plane + i] + 0.5);
            if (!Uniform(clip, t + 1, tx, ty, 2, id)) continue;
            for (int c = 0; c < 3; c++)
            {
                double e = Math.Abs(ws[c * plane + i] - fs[c * plane + i]);
                max = Math.Max(max, e);
                sum += e;
            }
            n++;
            if (id != 0) shapePixels++;
        }
        return new WarpStats(max, n == 0 ? 0 : sum / (3 * n), n, shapePixels);
    }

    /// <summary>A still shape (or other motion) at world position (x, y) with an explicit motion.</summary>
    public static ShapeSpec Shape(ShapeKind kind, ColorName color, double x, double y, double radius, MotionSpec? motion = null) =>
        new() { Kind = kind, Color = color, CenterX = x, CenterY = y, Radius = radius, Motion = motion ?? MotionSpec.Still };

    /// <summary>A smooth two-tone noise background (warping it bilinearly is accurate to about 0.01).</summary>
    public static BackgroundSpec Noise(double period = 0.2) => new()
    {
        Kind = BackgroundKind.Noise, ToneA = Rgb.Gray(0.06), ToneB = Rgb.Gray(0.40), Period = period,
    };

    public static BackgroundSpec Gradient() => new()
    {
        Kind = BackgroundKind.Gradient, ToneA = Rgb.Gray(0.05), ToneB = Rgb.Gray(0.45), Period = 1.2,
        DirectionX = 0.6, DirectionY = 0.8,
    };
}
