using FlowGuide.Tensors;

namespace FlowGuide.Media;

/// <summary>How <see cref="VideoIO.Resample"/> picks values between source frames.</summary>
public enum TemporalInterpolation { Nearest, Linear }

/// <summary>
/// Spatial resampling filter. Bilinear = <see cref="Ops.UpsampleBilinear2d"/> (pixel centres aligned, as torch's
/// align_corners=False) on both axes — differentiable, but it aliases when shrinking by more than 2x. Area = exact
/// area averaging (each output pixel is the mean of the input area it covers, fractional pixels weighted), the right
/// filter for shrinking. Auto = per axis: area where the axis shrinks, bilinear where it grows or stays.
/// </summary>
public enum ResizeMode { Auto, Bilinear, Area }

/// <summary>How <see cref="VideoIO.Fit"/> reaches a target size whose aspect ratio differs from the source's.</summary>
public enum FitMode
{
    /// <summary>Scale to cover the target, then centre-crop the excess (no distortion, loses edges).</summary>
    Cover,
    /// <summary>Scale to fit inside the target, then pad with black (-1) around it.</summary>
    Contain,
    /// <summary>Resize straight to the target (distorts the aspect ratio).</summary>
    Stretch,
}

public static partial class VideoIO
{
    /// <summary>
    /// Resamples a video [C, F, H, W] in time to <paramref name="frames"/> frames spread evenly over the whole clip, first
    /// and last frames kept: output frame i sits at source position i*(F-1)/(frames-1) and takes the nearest source
    /// frame or blends the two around it. (To keep the source's speed instead, take a window with Ops.Narrow on axis 1.)
    /// </summary>
    public static Tensor Resample(Tensor video, int frames, TemporalInterpolation mode = TemporalInterpolation.Linear)
    {
        CheckVideo("Resample", video);
        if (frames < 1) throw new ArgumentException($"VideoIO.Resample: target frame count {frames} must be positive.");
        int c = video.Size(0), f = video.Size(1), hw = video.Size(2) * video.Size(3);
        var y = Tensor.Zeros(c, frames, video.Size(2), video.Size(3));
        var src = video.Span;
        var dst = y.Span;
        for (int i = 0; i < frames; i++)
        {
            double pos = frames == 1 ? 0 : (double)i * (f - 1) / (frames - 1);
            int i0 = Math.Min((int)Math.Floor(pos), f - 1), i1 = Math.Min(i0 + 1, f - 1);
            float w1 = (float)(pos - i0);
            if (mode == TemporalInterpolation.Nearest) { i0 = i1 = Math.Min((int)Math.Round(pos, MidpointRounding.AwayFromZero), f - 1); w1 = 0; }
            for (int ch = 0; ch < c; ch++)
            {
                var a = src.Slice((ch * f + i0) * hw, hw);
                var b = src.Slice((ch * f + i1) * hw, hw);
                var o = dst.Slice((ch * frames + i) * hw, hw);
                if (w1 == 0f) a.CopyTo(o);
                else for (int p = 0; p < hw; p++) o[p] = a[p] + (b[p] - a[p]) * w1;
            }
        }
        return y;
    }

    /// <summary>Resizes every frame of [C, F, H, W] (or any [..., H, W]) to height x width; see <see cref="ResizeMode"/>.</summary>
    public static Tensor Resize(Tensor video, int height, int width, ResizeMode mode = ResizeMode.Auto)
    {
        if (video.Rank < 2) throw new ArgumentException($"VideoIO.Resize: input {video.Shape} must be [..., H, W].");
        if (height < 1 || width < 1) throw new ArgumentException($"VideoIO.Resize: target size {height}x{width} must be positive.");
        int h = video.Size(video.Rank - 2), w = video.Size(video.Rank - 1);
        int planes = video.Numel / (h * w);
        var outShape = video.Shape.ToArray();
        outShape[^2] = height;
        outShape[^1] = width;
        if (h == height && w == width) return video.Clone();
        if (mode == ResizeMode.Bilinear)
            return video.Reshape(1, planes, h, w).UpsampleBilinear2d(height, width).Reshape(outShape); // [1, planes, h, w] -> [..., height, width]
        var wx = Weights(w, width, mode == ResizeMode.Area || width < w);
        var wy = Weights(h, height, mode == ResizeMode.Area || height < h);
        var y = Tensor.Zeros(outShape);
        var src = video.Span.ToArray();
        var dst = y.Span;
        var tmp = new float[h * width];
        for (int p = 0; p < planes; p++)
        {
            var plane = src.AsSpan(p * h * w, h * w);
            for (int r = 0; r < h; r++)
                for (int x = 0; x < width; x++)
                {
                    float s = 0;
                    foreach (var (i, wt) in wx[x]) s += plane[r * w + i] * wt;
                    tmp[r * width + x] = s;
                }
            var o = dst.Slice(p * height * width, height * width);
            for (int r = 0; r < height; r++)
            {
                var row = o.Slice(r * width, width);
                foreach (var (i, wt) in wy[r])
                    for (int x = 0; x < width; x++) row[x] += tmp[i * width + x] * wt;
            }
        }
        return y;
    }

    /// <summary>The central height x width window of [..., H, W]; the size must not exceed the input's.</summary>
    public static Tensor CenterCrop(Tensor video, int height, int width)
    {
        if (video.Rank < 2) throw new ArgumentException($"VideoIO.CenterCrop: input {video.Shape} must be [..., H, W].");
        int h = video.Size(video.Rank - 2), w = video.Size(video.Rank - 1);
        if (height < 1 || width < 1 || height > h || width > w)
            throw new ArgumentException($"VideoIO.CenterCrop: crop {height}x{width} must be positive and fit inside {h}x{w} (input {video.Shape}).");
        return video.Narrow(video.Rank - 2, (h - height) / 2, height).Narrow(video.Rank - 1, (w - width) / 2, width);
    }

    /// <summary>Brings [..., H, W] to exactly height x width, keeping or ignoring the aspect ratio per <paramref name="fit"/>.</summary>
    public static Tensor Fit(Tensor video, int height, int width, FitMode fit = FitMode.Cover, ResizeMode mode = ResizeMode.Auto)
    {
        if (video.Rank < 2) throw new ArgumentException($"VideoIO.Fit: input {video.Shape} must be [..., H, W].");
        if (height < 1 || width < 1) throw new ArgumentException($"VideoIO.Fit: target size {height}x{width} must be positive.");
        int h = video.Size(video.Rank - 2), w = video.Size(video.Rank - 1);
        if (fit == FitMode.Stretch) return Resize(video, height, width, mode);
        double sc = fit == FitMode.Cover ? Math.Max((double)height / h, (double)width / w) : Math.Min((double)height / h, (double)width / w);
        int rh = Math.Max(1, (int)Math.Round(h * sc)), rw = Math.Max(1, (int)Math.Round(w * sc));
        if (fit == FitMode.Cover)
        {
            rh = Math.Max(rh, height); rw = Math.Max(rw, width);
            return CenterCrop(Resize(video, rh, rw, mode), height, width);
        }
        rh = Math.Min(rh, height); rw = Math.Min(rw, width);
        var r = Resize(video, rh, rw, mode);
        int top = (height - rh) / 2, left = (width - rw) / 2;
        var pads = new (int, int)[video.Rank];
        pads[^2] = (top, height - rh - top);
        pads[^1] = (left, width - rw - left);
        return r.Pad(pads, PadMode.Constant, -1f);
    }

    /// <summary>1-D resampling weights from n to m samples: area coverage, or linear with centres aligned (torch's align_corners=False).</summary>
    internal static (int Index, float Weight)[][] Weights(int n, int m, bool area)
    {
        var result = new (int, float)[m][];
        double scale = (double)n / m;
        for (int o = 0; o < m; o++)
        {
            if (area)
            {
                double a = o * scale, b = (o + 1) * scale;
                var list = new List<(int, float)>();
                for (int i = (int)Math.Floor(a); i < Math.Min(n, (int)Math.Ceiling(b)); i++)
                {
                    double overlap = Math.Min(b, i + 1) - Math.Max(a, i);
                    if (overlap > 1e-12) list.Add((i, (float)(overlap / scale)));
                }
                result[o] = list.ToArray();
            }
            else
            {
                double s = Math.Max(0, (o + 0.5) * scale - 0.5);
                int i0 = Math.Min((int)s, n - 1), i1 = Math.Min(i0 + 1, n - 1);
                float f = (float)(s - i0);
                result[o] = i0 == i1 || f == 0 ? new[] { (i0, 1f) } : new[] { (i0, 1 - f), (i1, f) };
            }
        }
        return result;
    }

    private static void CheckVideo(string op, Tensor video)
    {
        if (video.Rank != 4) throw new ArgumentException($"VideoIO.{op}: video {video.Shape} must be [C, F, H, W].");
    }
}
