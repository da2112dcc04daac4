using FlowGuide.Tensors;

namespace FlowGuide.Metrics;

/// <summary>One video's dynamic-degree decision and the numbers behind it.</summary>
/// <param name="IsDynamic">Whether at least <paramref name="RequiredPairs"/> pairs move.</param>
/// <param name="PairMagnitudes">Per sampled pair, the mean of the top 5% flow magnitudes in pixels.</param>
/// <param name="Threshold">6.0 * min(H, W) / 256: a pair moves when its magnitude exceeds this.</param>
/// <param name="RequiredPairs">round(4 * N / 16) with Python's round-half-to-even, N the number of pairs.</param>
/// <param name="MovingPairs">Pairs above the threshold.</param>
/// <param name="Stride">Frames between the two frames of a pair (VBench's fps subsampling).</param>
public sealed record DynamicDegreeResult(bool IsDynamic, IReadOnlyList<double> PairMagnitudes, double Threshold, int RequiredPairs, int MovingPairs, int Stride);

/// <summary>
/// VBench's dynamic degree with FlowGuide's flow (TV-L1 via <see cref="MetricFlow"/>) in place of RAFT: a video is
/// dynamic when enough of its frame pairs have large flow; the score of a set of videos is the fraction judged dynamic.
/// </summary>
public static class DynamicDegree
{
    /// <summary>
    /// Judges one video. Frames are paired at a stride of round(<paramref name="fps"/> / 8) (at least 1), as VBench samples
    /// them so that the rate is about 8 fps; pass null to pair consecutive frames. Per pair m = mean of the top 5%
    /// (floor(0.05 H W), at least one) flow magnitudes; the pair moves when m &gt; 6.0 min(H, W) / 256; the video is
    /// dynamic when at least round(4 N / 16) of its N pairs move (with fewer than 2 pairs that count is 0 and every
    /// video is dynamic). The count follows metrics.md; VBench's dynamic_degree.py takes it from the number of sampled
    /// frames, round(4 (N + 1) / 16), which is the same except when N + 1 is 3, 11, 19, ... (one more pair required).
    /// </summary>
    public static DynamicDegreeResult Evaluate(Tensor video, double? fps = null, MetricFlow? flow = null)
    {
        var frames = VideoFrames.From(video, "DynamicDegree");
        int stride = fps is null ? 1 : Math.Max(1, (int)Math.Round(fps.Value / 8.0, MidpointRounding.ToEven));
        if (stride >= frames.Count)
            throw new ArgumentException($"DynamicDegree.Evaluate: video has {frames.Count} frames but fps {fps} gives a pair stride of {stride}; expected more frames than the stride.");
        return Evaluate((flow ?? MetricFlow.Fast).Consecutive(frames, withBackward: false, stride));
    }

    /// <summary>As <see cref="Evaluate(Tensor, double?, MetricFlow?)"/> with the forward flows already computed.</summary>
    public static DynamicDegreeResult Evaluate(FlowPairs flows)
    {
        if (flows.Count == 0) throw new ArgumentException("DynamicDegree.Evaluate: no flow pairs given; expected at least one.");
        int h = flows.Height, w = flows.Width;
        double threshold = 6.0 * Math.Min(h, w) / 256.0;
        var mags = new List<double>(flows.Count);
        int moving = 0;
        foreach (var f in flows.Forward)
        {
            double m = TopFractionMean(f, h * w, 0.05);
            mags.Add(m);
            if (m > threshold) moving++;
        }
        int required = (int)Math.Round(4.0 * flows.Count / 16.0, MidpointRounding.ToEven);
        return new DynamicDegreeResult(moving >= required, mags, threshold, required, moving, flows.Stride);
    }

    /// <summary>The dynamic-degree score of a set of videos: the fraction whose result is dynamic.</summary>
    public static double Score(IEnumerable<DynamicDegreeResult> results)
    {
        int n = 0, dynamic = 0;
        foreach (var r in results) { n++; if (r.IsDynamic) dynamic++; }
        if (n == 0) throw new ArgumentException("DynamicDegree.Score: no results given; expected at least one video.");
        return (double)dynamic / n;
    }

    /// <summary>Mean of the largest floor(fraction * plane) (at least one) magnitudes of a planar flow [2, H, W].</summary>
    internal static double TopFractionMean(float[] flow, int plane, double fraction)
    {
        var mag = new float[plane];
        for (int i = 0; i < plane; i++) mag[i] = MathF.Sqrt(flow[i] * flow[i] + flow[plane + i] * flow[plane + i]);
        int k = Math.Max(1, (int)(plane * fraction));
        Array.Sort(mag);
        double s = 0;
        for (int i = plane - k; i < plane; i++) s += mag[i];
        return s / k;
    }
}
