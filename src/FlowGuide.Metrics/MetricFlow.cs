using FlowGuide.Models.Flow;
using FlowGuide.Tensors;

namespace FlowGuide.Metrics;

/// <summary>
/// The optical flow the metrics use: FlowGuide's <see cref="ClassicalFlow"/> (TV-L1) run without a tape, one
/// <see cref="TensorScope"/> per frame pair so that memory stays flat over a long video, and results copied out to planar
/// arrays [2, H, W] of (u, v) in pixels. It stands in for RAFT (VBench's dynamic degree, Lai et al.'s warping error) and
/// for CoTracker (motion fidelity's tracks).
/// </summary>
public sealed class MetricFlow
{
    /// <summary>
    /// The settings metrics use unless told otherwise: the library defaults with 3 warps (instead of 5) of 20 primal-dual
    /// iterations (instead of 30) and 10 at the finest level (instead of 15), about a third of the default's work. Metrics
    /// average over many pixels and pairs, so the small loss of accuracy (mostly in flat regions) matters less than the
    /// time of scoring every video of an evaluation.
    /// </summary>
    public static ClassicalFlowOptions FastOptions { get; } = ClassicalFlowOptions.Default with { Warps = 3, Iterations = 20, FinestIterations = 10 };

    /// <summary>A shared estimator with <see cref="FastOptions"/>.</summary>
    public static MetricFlow Fast { get; } = new();

    /// <summary>Creates a flow source; <paramref name="options"/> defaults to <see cref="FastOptions"/>.</summary>
    public MetricFlow(ClassicalFlowOptions? options = null) => Estimator = new ClassicalFlow(options ?? FastOptions);

    /// <summary>The underlying estimator.</summary>
    public ClassicalFlow Estimator { get; }

    /// <summary>Flow from frame <paramref name="from"/> to frame <paramref name="to"/> of <paramref name="video"/>: [2, H, W] planar (u then v).</summary>
    public float[] Estimate(VideoFrames video, int from, int to)
    {
        using var grad = GradMode.NoGrad();
        using var scope = new TensorScope();
        return Estimator.Estimate(video.FrameTensor(from), video.FrameTensor(to)).ToArray();
    }

    /// <summary>
    /// Flows between frames t and t + <paramref name="stride"/> for t = 0, stride, 2 stride, ... (VBench's fps
    /// subsampling when stride &gt; 1): forward (t -&gt; t + stride) always, backward (t + stride -&gt; t) when
    /// <paramref name="withBackward"/>.
    /// </summary>
    public FlowPairs Consecutive(VideoFrames video, bool withBackward, int stride = 1)
    {
        if (stride < 1) throw new ArgumentException($"MetricFlow.Consecutive: stride is {stride}, expected at least 1.");
        var fwd = new List<float[]>();
        var bwd = new List<float[]>();
        for (int t = 0; t + stride < video.Count; t += stride)
        {
            fwd.Add(Estimate(video, t, t + stride));
            if (withBackward) bwd.Add(Estimate(video, t + stride, t));
        }
        return new FlowPairs(fwd, withBackward ? bwd : null, stride, video.Height, video.Width);
    }

    /// <summary>
    /// Backward-warps a planar image [C, H, W] by a planar flow [2, H, W]: out(x) = image(x + flow(x)), bilinear, border
    /// padding (<see cref="FlowTools.BackwardWarp"/>).
    /// </summary>
    public static float[] Warp(float[] image, float[] flow, int height, int width)
    {
        int c = image.Length / (height * width);
        using var grad = GradMode.NoGrad();
        using var scope = new TensorScope();
        var img = Tensor.FromArray(image, 1, c, height, width);
        var f = Tensor.FromArray(flow, 1, 2, height, width);
        return FlowTools.BackwardWarp(img, f, GridPadding.Border).ToArray();
    }

    /// <summary>Planar [1, H, W] forward-backward occlusion mask (1 = occluded) with Lai et al.'s constants 0.01 and 0.5.</summary>
    public static float[] Occlusion(float[] forward, float[] backward, int height, int width)
    {
        using var grad = GradMode.NoGrad();
        using var scope = new TensorScope();
        var f = Tensor.FromArray(forward, 1, 2, height, width);
        var b = Tensor.FromArray(backward, 1, 2, height, width);
        return FlowTools.ForwardBackwardOcclusion(f, b, 0.01f, 0.5f).ToArray();
    }

    /// <summary>Bilinear sample of a planar flow [2, H, W] at (x, y) in pixels, the coordinates clamped to the image (border padding).</summary>
    public static (float U, float V) Sample(float[] flow, int height, int width, float x, float y)
    {
        x = Math.Clamp(x, 0, width - 1);
        y = Math.Clamp(y, 0, height - 1);
        int x0 = Math.Min((int)x, width - 2 < 0 ? 0 : width - 2), y0 = Math.Min((int)y, height - 2 < 0 ? 0 : height - 2);
        int x1 = Math.Min(x0 + 1, width - 1), y1 = Math.Min(y0 + 1, height - 1);
        float ax = x - x0, ay = y - y0;
        int plane = height * width;
        float Tap(int c, int yy, int xx) => flow[c * plane + yy * width + xx];
        float Bilinear(int c) =>
            (1 - ay) * ((1 - ax) * Tap(c, y0, x0) + ax * Tap(c, y0, x1)) + ay * ((1 - ax) * Tap(c, y1, x0) + ax * Tap(c, y1, x1));
        return (Bilinear(0), Bilinear(1));
    }
}

/// <summary>Flows between sampled frame pairs of one video, planar [2, H, W] each.</summary>
/// <param name="Forward">Pair k: frame k stride -&gt; frame (k + 1) stride.</param>
/// <param name="Backward">Pair k the other way, or null when not computed.</param>
/// <param name="Stride">Frames between the two frames of a pair.</param>
/// <param name="Height">Frame height H.</param>
/// <param name="Width">Frame width W.</param>
public sealed record FlowPairs(IReadOnlyList<float[]> Forward, IReadOnlyList<float[]>? Backward, int Stride, int Height, int Width)
{
    /// <summary>Number of pairs.</summary>
    public int Count => Forward.Count;
}
