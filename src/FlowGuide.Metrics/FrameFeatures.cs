namespace FlowGuide.Metrics;

/// <summary>A per-frame feature extractor for the consistency metrics: one planar frame [3, H, W] in [-1, 1] to a vector.</summary>
public interface IFrameFeatures
{
    /// <summary>What the features are, for reports.</summary>
    string Name { get; }

    /// <summary>The feature vector of <paramref name="frame"/> (planar [3, H, W], values in [-1, 1]); same length for every frame of one size.</summary>
    float[] Extract(float[] frame, int height, int width);
}

/// <summary>
/// STAND-IN for DINO ViT-B/16 (VBench's subject consistency), not a learned feature: gradient-orientation histograms
/// (9 unsigned orientation bins, magnitude weighted, on a <see cref="Cells"/> x <see cref="Cells"/> grid of cells of the
/// grey image) concatenated with the cells' mean RGB colours in [0, 1], each part scaled to unit length, so the cosine
/// of two vectors is the mean of the two parts' cosines. It reacts to changes of structure (edges moving, appearing,
/// vanishing) and of coarse colour layout, not to semantics; scores are comparable between methods, not with published
/// VBench numbers.
/// </summary>
public sealed class GradientHistogramFeatures : IFrameFeatures
{
    private const int Bins = 9;

    /// <summary>Creates the extractor with <paramref name="cells"/> cells per side.</summary>
    public GradientHistogramFeatures(int cells = 4)
    {
        if (cells < 1) throw new ArgumentException($"GradientHistogramFeatures: cells is {cells}, expected at least 1.");
        Cells = cells;
    }

    public int Cells { get; }

    public string Name => $"gradient-orientation histograms ({Cells}x{Cells} cells, {Bins} bins) + cell mean colours; stand-in for DINO";

    public float[] Extract(float[] frame, int height, int width)
    {
        int plane = height * width, g = Cells;
        var hog = new double[g * g * Bins];
        var colour = new double[g * g * 3];
        var count = new int[g * g];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int cell = Math.Min(y * g / height, g - 1) * g + Math.Min(x * g / width, g - 1);
                int i = y * width + x;
                count[cell]++;
                for (int c = 0; c < 3; c++) colour[cell * 3 + c] += (frame[c * plane + i] + 1) * 0.5;
                double gx = Grey(frame, plane, y * width + Math.Min(x + 1, width - 1)) - Grey(frame, plane, y * width + Math.Max(x - 1, 0));
                double gy = Grey(frame, plane, Math.Min(y + 1, height - 1) * width + x) - Grey(frame, plane, Math.Max(y - 1, 0) * width + x);
                double mag = Math.Sqrt(gx * gx + gy * gy);
                if (mag == 0) continue;
                double angle = Math.Atan2(gy, gx);
                if (angle < 0) angle += Math.PI; // unsigned orientation in [0, pi)
                int bin = Math.Min((int)(angle / Math.PI * Bins), Bins - 1);
                hog[cell * Bins + bin] += mag;
            }
        for (int cell = 0; cell < g * g; cell++)
            for (int c = 0; c < 3; c++) colour[cell * 3 + c] /= Math.Max(count[cell], 1);
        return FeatureMath.ConcatUnit(hog, colour);
    }

    private static double Grey(float[] f, int plane, int i) => (f[i] + f[plane + i] + f[2 * plane + i]) / 3.0;
}

/// <summary>
/// STAND-IN for CLIP ViT-B/32 (VBench's background consistency), not a learned feature: a joint RGB colour histogram
/// (<see cref="BinsPerChannel"/>^3 bins over the whole frame) concatenated with a <see cref="Thumbnail"/> x
/// <see cref="Thumbnail"/> block-mean thumbnail in [0, 1], each part scaled to unit length, so the cosine of two vectors
/// is the mean of the two parts' cosines. It measures whether the frame's colours and coarse layout stay put, which is
/// what a static background does; it knows nothing of objects.
/// </summary>
public sealed class ColourHistogramFeatures : IFrameFeatures
{
    /// <summary>Creates the extractor.</summary>
    public ColourHistogramFeatures(int binsPerChannel = 8, int thumbnail = 8)
    {
        if (binsPerChannel < 1 || thumbnail < 1)
            throw new ArgumentException($"ColourHistogramFeatures: binsPerChannel = {binsPerChannel} and thumbnail = {thumbnail}, expected both at least 1.");
        BinsPerChannel = binsPerChannel;
        Thumbnail = thumbnail;
    }

    public int BinsPerChannel { get; }

    public int Thumbnail { get; }

    public string Name => $"RGB histogram ({BinsPerChannel}^3 bins) + {Thumbnail}x{Thumbnail} thumbnail; stand-in for CLIP";

    public float[] Extract(float[] frame, int height, int width)
    {
        int plane = height * width, b = BinsPerChannel, g = Thumbnail;
        var hist = new double[b * b * b];
        var thumb = new double[g * g * 3];
        var count = new int[g * g];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                int cell = Math.Min(y * g / height, g - 1) * g + Math.Min(x * g / width, g - 1);
                count[cell]++;
                int index = 0;
                for (int c = 0; c < 3; c++)
                {
                    double v = Math.Clamp((frame[c * plane + i] + 1) * 0.5, 0, 1);
                    thumb[cell * 3 + c] += v;
                    index = index * b + Math.Min((int)(v * b), b - 1);
                }
                hist[index]++;
            }
        for (int cell = 0; cell < g * g; cell++)
            for (int c = 0; c < 3; c++) thumb[cell * 3 + c] /= Math.Max(count[cell], 1);
        return FeatureMath.ConcatUnit(hist, thumb);
    }
}

internal static class FeatureMath
{
    /// <summary>Concatenates the parts, each scaled to unit L2 length (an all-zero part stays zero).</summary>
    public static float[] ConcatUnit(params double[][] parts)
    {
        var result = new float[parts.Sum(p => p.Length)];
        int offset = 0;
        foreach (var p in parts)
        {
            double norm = Math.Sqrt(p.Sum(v => v * v));
            for (int i = 0; i < p.Length; i++) result[offset + i] = norm > 0 ? (float)(p[i] / norm) : 0f;
            offset += p.Length;
        }
        return result;
    }

    /// <summary>Cosine similarity with torch's F.normalize convention (norms floored at 1e-12).</summary>
    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * (double)b[i]; na += a[i] * (double)a[i]; nb += b[i] * (double)b[i]; }
        return dot / (Math.Max(Math.Sqrt(na), 1e-12) * Math.Max(Math.Sqrt(nb), 1e-12));
    }
}
