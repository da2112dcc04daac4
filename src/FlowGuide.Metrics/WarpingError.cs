using FlowGuide.Tensors;

namespace FlowGuide.Metrics;

/// <summary>
/// Lai et al. (2018)'s warping error on [0, 1] pixels, occlusions excluded with the forward-backward consistency check.
/// Lower is better; 0 when every frame is exactly the warp of the next.
/// </summary>
public static class WarpingError
{
    /// <summary>
    /// E = 1/(T-1) sum_t [ sum_i M_t(i) |V_t(i) - warp(V_{t+1}, F_{t-&gt;t+1})(i)|^2 / sum_i M_t(i) ], where i runs over
    /// pixels, |.|^2 is the squared distance of the RGB vectors (channels summed), V in [0, 1], and M = 1 - occlusion with
    /// occluded meaning |w + w_back|^2 &gt; 0.01 (|w|^2 + |w_back|^2) + 0.5 (w_back sampled at x + w). A pair whose mask is
    /// empty adds 0, as in Lai et al.'s evaluate_WarpError.py (its masked difference is all zero there). Flows come from
    /// <paramref name="flow"/> (<see cref="MetricFlow.Fast"/> by default) in place of their FlowNet2. Two differences from
    /// that script, both following metrics.md: its occlusion mask also marks motion boundaries, and it reads the mask as a
    /// 3-channel image, so its denominator counts every pixel three times and its numbers are this value divided by 3.
    /// </summary>
    public static double Compute(Tensor video, MetricFlow? flow = null)
    {
        var frames = VideoFrames.From(video, "WarpingError");
        return Compute(frames, (flow ?? MetricFlow.Fast).Consecutive(frames, withBackward: true));
    }

    /// <summary>As <see cref="Compute(Tensor, MetricFlow?)"/> with flows already computed (stride 1, backward included).</summary>
    public static double Compute(VideoFrames frames, FlowPairs flows)
    {
        if (flows.Backward is null || flows.Stride != 1 || flows.Count != frames.Count - 1 || flows.Height != frames.Height || flows.Width != frames.Width)
            throw new ArgumentException($"WarpingError.Compute: flows hold {flows.Count} pairs at stride {flows.Stride} of {flows.Height}x{flows.Width} (backward {(flows.Backward is null ? "missing" : "present")}); expected {frames.Count - 1} consecutive pairs of {frames.Height}x{frames.Width} with backward flows.");
        int h = frames.Height, w = frames.Width, plane = h * w;
        double total = 0;
        for (int t = 0; t < flows.Count; t++)
        {
            var warped = MetricFlow.Warp(frames[t + 1], flows.Forward[t], h, w); // [3, H, W] in [-1, 1]
            var occ = MetricFlow.Occlusion(flows.Forward[t], flows.Backward[t], h, w);
            var cur = frames[t];
            double err = 0, n = 0;
            for (int i = 0; i < plane; i++)
            {
                double d2 = 0;
                for (int c = 0; c < 3; c++)
                {
                    double d = (cur[c * plane + i] - warped[c * plane + i]) * 0.5; // [-1, 1] -> [0, 1] difference
                    d2 += d * d;
                }
                if (occ[i] == 0) { err += d2; n++; }
            }
            if (n > 0) total += err / n; // an all-occluded pair adds 0 (see above)
        }
        return total / flows.Count;
    }
}
