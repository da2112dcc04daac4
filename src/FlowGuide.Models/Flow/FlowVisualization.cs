using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>
/// The Middlebury colour coding of flow (Baker et al. 2011): hue from the direction on a 55-colour wheel (red, yellow,
/// green, cyan, blue, magenta, with 15, 6, 4, 11, 13 and 6 steps between them), saturation from the magnitude. Pointing
/// right is red, down orange-yellow, left cyan, up blue-violet; zero motion is white. Unknown flow is black.
/// </summary>
public static class FlowVisualization
{
    private static readonly byte[,] Wheel = BuildWheel();

    /// <summary>Number of colours on the wheel.</summary>
    public static int WheelSize => Wheel.GetLength(0);

    /// <summary>The wheel colour at <paramref name="index"/> (0 = red, counting toward yellow) as (R, G, B).</summary>
    public static (byte R, byte G, byte B) WheelColor(int index)
    {
        if (index < 0 || index >= WheelSize) throw new ArgumentOutOfRangeException(nameof(index), index, $"WheelColor: index must be in [0, {WheelSize}).");
        return (Wheel[index, 0], Wheel[index, 1], Wheel[index, 2]);
    }

    /// <summary>
    /// Colours one flow of <paramref name="flow"/> ([N, 2, H, W] or [2, H, W]; item <paramref name="batchIndex"/>) as
    /// interleaved RGB bytes, row-major, H x W x 3. Magnitudes are divided by <paramref name="maxMagnitude"/> when given,
    /// otherwise by the largest known magnitude; beyond 1 the colour is darkened to 75%. Components above 1e9 in
    /// magnitude (or non-finite) are unknown and drawn black.
    /// </summary>
    public static byte[] ToRgb(Tensor flow, float? maxMagnitude = null, int batchIndex = 0)
    {
        ArgumentNullException.ThrowIfNull(flow);
        bool rank4 = flow.Rank == 4 && flow.Size(1) == 2, rank3 = flow.Rank == 3 && flow.Size(0) == 2;
        if (!rank4 && !rank3) throw new ArgumentException($"FlowVisualization.ToRgb: flow has shape {flow.Shape}, expected [N, 2, H, W] or [2, H, W].");
        int n = rank4 ? flow.Size(0) : 1, h = flow.Size(flow.Rank - 2), w = flow.Size(flow.Rank - 1);
        if (batchIndex < 0 || batchIndex >= n) throw new ArgumentOutOfRangeException(nameof(batchIndex), batchIndex, $"FlowVisualization.ToRgb: batch index outside [0, {n}) for flow {flow.Shape}.");
        if (maxMagnitude is { } mm && !(mm > 0 && float.IsFinite(mm))) throw new ArgumentException($"FlowVisualization.ToRgb: maxMagnitude is {mm}, expected a finite positive value.");
        int plane = h * w;
        var f = flow.Span.Slice(batchIndex * 2 * plane, 2 * plane);
        double max = maxMagnitude ?? 0;
        if (maxMagnitude is null)
            for (int i = 0; i < plane; i++)
                if (Known(f[i]) && Known(f[plane + i])) max = Math.Max(max, Math.Sqrt((double)f[i] * f[i] + (double)f[plane + i] * f[plane + i]));
        if (max <= 0) max = 1;
        var rgb = new byte[plane * 3];
        for (int i = 0; i < plane; i++)
        {
            float u = f[i], v = f[plane + i];
            if (!Known(u) || !Known(v)) continue; // black
            var (r, g, b) = Encode(u / max, v / max);
            rgb[3 * i] = r; rgb[3 * i + 1] = g; rgb[3 * i + 2] = b;
        }
        return rgb;
    }

    /// <summary>The colour of one normalised flow vector (radius 1 = fully saturated).</summary>
    public static (byte R, byte G, byte B) Encode(double u, double v)
    {
        int ncols = WheelSize;
        double rad = Math.Sqrt(u * u + v * v);
        double a = Math.Atan2(-v, -u) / Math.PI; // in [-1, 1]
        double fk = (a + 1) / 2 * (ncols - 1);
        int k0 = (int)Math.Floor(fk);
        int k1 = (k0 + 1) % ncols;
        double frac = fk - k0;
        Span<byte> outc = stackalloc byte[3];
        for (int ch = 0; ch < 3; ch++)
        {
            double col = ((1 - frac) * Wheel[k0, ch] + frac * Wheel[k1, ch]) / 255.0;
            col = rad <= 1 ? 1 - rad * (1 - col) : col * 0.75;
            outc[ch] = (byte)Math.Floor(255 * col);
        }
        return (outc[0], outc[1], outc[2]);
    }

    private static bool Known(float x) => float.IsFinite(x) && Math.Abs(x) <= FlowIO.UnknownThreshold;

    private static byte[,] BuildWheel()
    {
        const int ry = 15, yg = 6, gc = 4, cb = 11, bm = 13, mr = 6;
        var w = new byte[ry + yg + gc + cb + bm + mr, 3];
        int k = 0;
        for (int i = 0; i < ry; i++, k++) { w[k, 0] = 255; w[k, 1] = (byte)(255 * i / ry); }
        for (int i = 0; i < yg; i++, k++) { w[k, 0] = (byte)(255 - 255 * i / yg); w[k, 1] = 255; }
        for (int i = 0; i < gc; i++, k++) { w[k, 1] = 255; w[k, 2] = (byte)(255 * i / gc); }
        for (int i = 0; i < cb; i++, k++) { w[k, 1] = (byte)(255 - 255 * i / cb); w[k, 2] = 255; }
        for (int i = 0; i < bm; i++, k++) { w[k, 2] = 255; w[k, 0] = (byte)(255 * i / bm); }
        for (int i = 0; i < mr; i++, k++) { w[k, 2] = (byte)(255 - 255 * i / mr); w[k, 0] = 255; }
        return w;
    }
}
