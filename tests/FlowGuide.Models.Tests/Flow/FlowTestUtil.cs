using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Models.Tests.Flow;

internal static class FlowTestUtil
{
    /// <summary>
    /// A fused path against the plain composition it replaces: same shape, every element within tol x (1 + max |expected|);
    /// the reference must not be all zero.
    /// </summary>
    public static void AssertClose(Tensor expected, Tensor actual, double tol, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.Span; var a = actual.Span;
        double scale = 0;
        foreach (var v in e) scale = Math.Max(scale, Math.Abs(v));
        Assert.True(scale > 0, $"{what}: reference is all zero");
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + scale), $"{what}[{i}]: plain {e[i]} vs fused {a[i]}");
    }

    /// <summary>../shared/data/flow/mmflow (see <see cref="FlowGuide.TestSupport.RepoPaths"/>).</summary>
    public static string MmflowDir() => ExistingDir(FlowGuide.TestSupport.RepoPaths.SharedData(Path.Combine("flow", "mmflow")));

    private static string ExistingDir(string path)
    {
        Assert.True(Directory.Exists(path), $"shared data folder {path} not found");
        return path;
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
