using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Flow;

internal static class FlowTestUtil
{
    /// <summary>../shared/data/flow/mmflow next to the repository root (the folder holding FlowGuide.sln), or any ancestor's shared/.</summary>
    public static string MmflowDir()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FlowGuide.sln"))) dir = dir.Parent;
        Assert.True(dir is not null, "FlowGuide.sln not found above the test directory");
        for (var d = dir!.Parent; d is not null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "shared", "data", "flow", "mmflow");
            if (Directory.Exists(p)) return p;
        }
        Assert.Fail($"shared/data/flow/mmflow not found above {dir.FullName}");
        return "";
    }

    /// <summary>Smooth random RGB texture in [0, 1]: uniform noise blurred by sigma and stretched.</summary>
    public static Tensor Texture(int seed, int h, int w, float sigma)
    {
        var rng = new Random(seed);
        var d = new float[3 * h * w];
        for (int i = 0; i < d.Length; i++) d[i] = (float)rng.NextDouble();
        Tensor t;
        using (GradMode.NoGrad()) t = ClassicalFlow.GaussianBlur(Tensor.FromArray(d, 1, 3, h, w), sigma);
        var s = t.Span;
        float mn = float.MaxValue, mx = float.MinValue;
        foreach (var v in s) { mn = Math.Min(mn, v); mx = Math.Max(mx, v); }
        for (int i = 0; i < s.Length; i++) s[i] = (s[i] - mn) / (mx - mn);
        return t;
    }

    /// <summary>Affine flow about the image centre: u = a (x - cx) + b (y - cy) + tx, v = c (x - cx) + d (y - cy) + ty.</summary>
    public static Tensor Affine(int h, int w, double a, double b, double c, double d, double tx, double ty)
    {
        var f = Tensor.Empty(1, 2, h, w);
        var s = f.Span;
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                s[y * w + x] = (float)(a * (x - cx) + b * (y - cy) + tx);
                s[h * w + y * w + x] = (float)(c * (x - cx) + d * (y - cy) + ty);
            }
        return f;
    }

    /// <summary>Mean endpoint error over pixels at least <paramref name="margin"/> from the border.</summary>
    public static double InteriorEpe(Tensor flow, Tensor gt, int margin)
    {
        int h = gt.Size(2), w = gt.Size(3);
        var mask = Tensor.Zeros(1, 1, h, w);
        var m = mask.Span;
        for (int y = margin; y < h - margin; y++)
            for (int x = margin; x < w - margin; x++) m[y * w + x] = 1;
        return FlowMetrics.EndpointError(flow, gt, mask);
    }
}
