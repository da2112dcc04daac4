using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Metrics;

/// <summary>
/// VBench's pixel-level temporal dimensions: temporal flickering and motion smoothness. Both read frames as uint8, as
/// VBench does, and map a mean absolute difference d in [0, 255] to the score (255 - d) / 255 (1 = perfect).
/// </summary>
public static class TemporalQuality
{
    /// <summary>
    /// Temporal flickering: S = (255 - mean_t mean_pixels |F_t - F_{t+1}|) / 255 over all consecutive frame pairs, on
    /// uint8 frames. A static video scores exactly 1. VBench reports it only for videos its flow filter judges static
    /// (see <see cref="DynamicDegree"/>); this function scores any video it is given.
    /// </summary>
    public static double TemporalFlickering(Tensor video)
    {
        var frames = VideoFrames.From(video, "TemporalFlickering");
        double sum = 0;
        var prev = frames.Uint8(0);
        for (int t = 1; t < frames.Count; t++)
        {
            var cur = frames.Uint8(t);
            sum += VideoFrames.MeanAbsDiff(prev, cur);
            prev = cur;
        }
        return (255.0 - sum / (frames.Count - 1)) / 255.0;
    }

    /// <summary>
    /// Motion smoothness: keeps frames 0, 2, 4, ..., synthesises each odd frame 2k + 1 (that has an even neighbour on both
    /// sides) from frames 2k and 2k + 2 with <see cref="InterpolateMidpoint"/>, and scores
    /// S = (255 - mean_k mean_pixels |interpolated - real|) / 255 on uint8 frames. VBench's interpolator is the AMT-S
    /// network; this flow-based interpolator is the network-free stand-in metrics.md names. Needs at least 3 frames.
    /// </summary>
    public static double MotionSmoothness(Tensor video, MetricFlow? flow = null)
    {
        var frames = VideoFrames.From(video, "MotionSmoothness", minFrames: 3);
        flow ??= MetricFlow.Fast;
        double sum = 0;
        int count = 0;
        for (int t = 1; t + 1 < frames.Count; t += 2)
        {
            var mid = InterpolateMidpoint(frames, t - 1, t + 1, flow);
            sum += VideoFrames.MeanAbsDiff(VideoFrames.ToUint8(mid), frames.Uint8(t));
            count++;
        }
        return (255.0 - sum / count) / 255.0;
    }

    /// <summary>
    /// The frame halfway between frames <paramref name="a"/> and <paramref name="b"/>, planar [3, H, W] in [-1, 1]: with
    /// the flows F_ab and F_ba between them, the flows from the midpoint back to each end are approximated as in Super
    /// SloMo (Jiang et al. 2018) at t = 1/2, F_m-&gt;a = (F_ba - F_ab) / 4 and F_m-&gt;b = (F_ab - F_ba) / 4; both ends
    /// are backward-warped along them and averaged. Exact for a uniform translation.
    /// </summary>
    public static float[] InterpolateMidpoint(VideoFrames frames, int a, int b, MetricFlow? flow = null)
    {
        flow ??= MetricFlow.Fast;
        var fab = flow.Estimate(frames, a, b);
        var fba = flow.Estimate(frames, b, a);
        int h = frames.Height, w = frames.Width;
        using var grad = GradMode.NoGrad();
        using var scope = new TensorScope();
        var tab = Tensor.FromArray(fab, 1, 2, h, w);
        var tba = Tensor.FromArray(fba, 1, 2, h, w);
        var toA = tba.Sub(tab).MulScalar(0.25f); // [1, 2, H, W]
        var toB = tab.Sub(tba).MulScalar(0.25f);
        var fromA = FlowTools.BackwardWarp(frames.FrameTensor(a), toA, GridPadding.Border);
        var fromB = FlowTools.BackwardWarp(frames.FrameTensor(b), toB, GridPadding.Border);
        return fromA.Add(fromB).MulScalar(0.5f).ToArray(); // [3, H, W]
    }
}
