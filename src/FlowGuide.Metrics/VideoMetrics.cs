using FlowGuide.Tensors;

namespace FlowGuide.Metrics;

/// <summary>Every single-video metric of one video (see the classes named in each parameter for definitions).</summary>
/// <param name="TemporalFlickering"><see cref="TemporalQuality.TemporalFlickering"/>: higher is better, 1 for a static video.</param>
/// <param name="MotionSmoothness"><see cref="TemporalQuality.MotionSmoothness"/>: higher is better (NaN below 3 frames).</param>
/// <param name="Dynamic"><see cref="DynamicDegree.Evaluate(FlowPairs)"/> for this video.</param>
/// <param name="WarpingError"><see cref="Metrics.WarpingError"/>: lower is better.</param>
/// <param name="SubjectConsistency"><see cref="Consistency.Subject"/> (stand-in features).</param>
/// <param name="BackgroundConsistency"><see cref="Consistency.Background"/> (stand-in features).</param>
public sealed record VideoMetricSet(double TemporalFlickering, double MotionSmoothness, DynamicDegreeResult Dynamic, double WarpingError, double SubjectConsistency, double BackgroundConsistency);

/// <summary>Computes all single-video metrics at once, estimating each consecutive-frame flow (both directions) only once.</summary>
public static class VideoMetrics
{
    /// <summary>
    /// Scores <paramref name="video"/> ([3, F, H, W] in [-1, 1], F &gt;= 2). The consecutive forward and backward flows
    /// serve the warping error and, when <paramref name="fps"/> gives a stride of 1 (or is null), the dynamic degree;
    /// motion smoothness needs its own flows between frames two apart.
    /// </summary>
    public static VideoMetricSet Evaluate(Tensor video, double? fps = null, MetricFlow? flow = null) =>
        EvaluateWithFlows(video, fps, flow).Metrics;

    /// <summary>
    /// As <see cref="Evaluate"/>, also handing back the consecutive forward and backward flows it estimated (stride 1),
    /// for a caller that shows or reuses them.
    /// </summary>
    public static (VideoMetricSet Metrics, FlowPairs Flows) EvaluateWithFlows(Tensor video, double? fps = null, MetricFlow? flow = null)
    {
        flow ??= MetricFlow.Fast;
        var frames = VideoFrames.From(video, "VideoMetrics.Evaluate");
        var pairs = flow.Consecutive(frames, withBackward: true);
        int stride = fps is null ? 1 : Math.Max(1, (int)Math.Round(fps.Value / 8.0, MidpointRounding.ToEven));
        var dynamic = stride == 1 || stride >= frames.Count ? DynamicDegree.Evaluate(pairs) : DynamicDegree.Evaluate(video, fps, flow);
        var metrics = new VideoMetricSet(
            TemporalQuality.TemporalFlickering(video),
            frames.Count >= 3 ? TemporalQuality.MotionSmoothness(video, flow) : double.NaN,
            dynamic,
            WarpingError.Compute(frames, pairs),
            Consistency.Subject(video),
            Consistency.Background(video));
        return (metrics, pairs);
    }
}
