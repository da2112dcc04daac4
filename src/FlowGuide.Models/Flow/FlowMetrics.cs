using FlowGuide.Tensors;

namespace FlowGuide.Models.Flow;

/// <summary>Accuracy of an estimated flow against ground truth, over the pixels where the ground truth is known.</summary>
/// <param name="Epe">Mean endpoint error, |f - g| in pixels.</param>
/// <param name="AngularErrorDegrees">Mean angular error of the space-time vectors (u, v, 1) (Barron et al.), in degrees.</param>
/// <param name="Within1Px">Fraction of pixels with endpoint error below 1 px.</param>
/// <param name="Within3Px">Fraction with endpoint error below 3 px.</param>
/// <param name="Within5Px">Fraction with endpoint error below 5 px.</param>
/// <param name="OutlierRate">KITTI's Fl: fraction with endpoint error above both 3 px and 5% of the true motion.</param>
/// <param name="ValidPixels">Pixels evaluated (the batch included).</param>
public sealed record FlowAccuracy(double Epe, double AngularErrorDegrees, double Within1Px, double Within3Px, double Within5Px, double OutlierRate, long ValidPixels);

/// <summary>Flow accuracy measures. Flows are [N, 2, H, W] (or [2, H, W]) tensors of (u, v) in pixels.</summary>
public static class FlowMetrics
{
    /// <summary>
    /// [N, 1, H, W] mask: 1 where both components of <paramref name="flow"/> are finite and at most 1e9 in magnitude
    /// (the .flo convention for known flow), 0 elsewhere.
    /// </summary>
    public static Tensor ValidMask(Tensor flow)
    {
        var (n, h, w) = Dims("ValidMask", flow, "flow");
        var m = Tensor.Empty(n, 1, h, w);
        var f = flow.Span; var d = m.Span;
        int plane = h * w;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < plane; i++)
            {
                float u = f[(2 * b) * plane + i], v = f[(2 * b + 1) * plane + i];
                d[b * plane + i] = Known(u) && Known(v) ? 1f : 0f;
            }
        return m;
    }

    /// <summary>
    /// Differentiable per-pixel endpoint error |flow - reference|, [N, 1, H, W] (sqrt with a 1e-12 floor so that its
    /// gradient stays finite where the flows agree). Unknown reference pixels are not masked: use <see cref="ValidMask"/>.
    /// </summary>
    public static Tensor EndpointErrorMap(Tensor flow, Tensor reference)
    {
        CheckPair("EndpointErrorMap", flow, reference);
        var d = flow.Sub(reference);
        if (d.Rank == 3) d = d.Unsqueeze(0);
        return d.Square().Sum(1, keepDim: true).AddScalar(1e-12f).Sqrt();
    }

    /// <summary>
    /// Mean endpoint error over the pixels where <paramref name="groundTruth"/> is known and, when given,
    /// <paramref name="valid"/> ([N, 1, H, W] or [N, H, W], non-zero = use) is set. Returns NaN when no pixel is valid.
    /// </summary>
    public static double EndpointError(Tensor flow, Tensor groundTruth, Tensor? valid = null) =>
        Evaluate(flow, groundTruth, valid).Epe;

    /// <summary>All of <see cref="FlowAccuracy"/>'s measures at once (see <see cref="EndpointError"/> for the pixels used).</summary>
    public static FlowAccuracy Evaluate(Tensor flow, Tensor groundTruth, Tensor? valid = null)
    {
        CheckPair("Evaluate", flow, groundTruth);
        var (n, h, w) = Dims("Evaluate", groundTruth, "groundTruth");
        int plane = h * w;
        if (valid is not null && valid.Numel != n * plane)
            throw new ArgumentException($"Evaluate: valid mask has shape {valid.Shape}, expected {n * plane} elements ([{n}, 1, {h}, {w}]) for ground truth {groundTruth.Shape}.");
        var f = flow.Span; var g = groundTruth.Span;
        var m = valid is null ? default : valid.Span;
        double epe = 0, ae = 0; long count = 0, in1 = 0, in3 = 0, in5 = 0, outliers = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < plane; i++)
            {
                int iu = (2 * b) * plane + i, iv = iu + plane;
                float gu = g[iu], gv = g[iv];
                if (!Known(gu) || !Known(gv) || (!m.IsEmpty && m[b * plane + i] == 0)) continue;
                double du = f[iu] - gu, dv = f[iv] - gv;
                double e = Math.Sqrt(du * du + dv * dv);
                double mag = Math.Sqrt((double)gu * gu + (double)gv * gv);
                double cos = (f[iu] * (double)gu + f[iv] * (double)gv + 1) /
                             Math.Sqrt((f[iu] * (double)f[iu] + f[iv] * (double)f[iv] + 1) * (mag * mag + 1));
                epe += e;
                ae += Math.Acos(Math.Clamp(cos, -1, 1));
                count++;
                if (e < 1) in1++;
                if (e < 3) in3++;
                if (e < 5) in5++;
                if (e > 3 && e > 0.05 * mag) outliers++;
            }
        if (count == 0) return new FlowAccuracy(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, 0);
        double c = count;
        return new FlowAccuracy(epe / c, ae / c * 180 / Math.PI, in1 / c, in3 / c, in5 / c, outliers / c, count);
    }

    private static bool Known(float x) => float.IsFinite(x) && Math.Abs(x) <= FlowIO.UnknownThreshold;

    private static void CheckPair(string op, Tensor flow, Tensor reference)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(reference);
        Dims(op, flow, "flow");
        if (flow.Shape != reference.Shape)
            throw new ArgumentException($"{op}: flow has shape {flow.Shape} but the reference has {reference.Shape}; expected the same [N, 2, H, W].");
    }

    private static (int N, int H, int W) Dims(string op, Tensor flow, string what)
    {
        ArgumentNullException.ThrowIfNull(flow);
        if (flow.Rank == 4 && flow.Size(1) == 2) return (flow.Size(0), flow.Size(2), flow.Size(3));
        if (flow.Rank == 3 && flow.Size(0) == 2) return (1, flow.Size(1), flow.Size(2));
        throw new ArgumentException($"{op}: {what} has shape {flow.Shape}, expected [N, 2, H, W] or [2, H, W] holding (u, v).");
    }
}
