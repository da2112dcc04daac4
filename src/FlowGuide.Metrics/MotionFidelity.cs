using FlowGuide.Tensors;

namespace FlowGuide.Metrics;

/// <summary>
/// Point tracks: <see cref="Points"/> points followed through <see cref="Frames"/> frames, positions (x, y) in pixels
/// stored [point, frame, 2] in <see cref="Xy"/>.
/// </summary>
public sealed record PointTracks(int Points, int Frames, float[] Xy)
{
    /// <summary>Position of point <paramref name="n"/> in frame <paramref name="t"/>.</summary>
    public (float X, float Y) At(int n, int t) => (Xy[(n * Frames + t) * 2], Xy[(n * Frames + t) * 2 + 1]);

    /// <summary>
    /// Tracks a gridSize x gridSize grid of points, starting at pixel centres ((j + 1/2) W / G - 1/2, (i + 1/2) H / G - 1/2)
    /// in frame 0, by chaining consecutive forward flows: p_{t+1} = p_t + flow_t(p_t), the flow sampled bilinearly with
    /// positions clamped to the image. A network-free stand-in for CoTracker's tracks: it drifts over long videos and does
    /// not recover points through occlusions.
    /// </summary>
    public static PointTracks FromFlow(FlowPairs flows, int gridSize)
    {
        if (gridSize < 1) throw new ArgumentException($"PointTracks.FromFlow: gridSize is {gridSize}, expected at least 1.");
        if (flows.Stride != 1) throw new ArgumentException($"PointTracks.FromFlow: flows have stride {flows.Stride}, expected consecutive pairs (stride 1).");
        int h = flows.Height, w = flows.Width, frames = flows.Count + 1, points = gridSize * gridSize;
        var xy = new float[points * frames * 2];
        for (int i = 0; i < gridSize; i++)
            for (int j = 0; j < gridSize; j++)
            {
                int n = i * gridSize + j;
                float x = (j + 0.5f) * w / gridSize - 0.5f, y = (i + 0.5f) * h / gridSize - 0.5f;
                xy[n * frames * 2] = x;
                xy[n * frames * 2 + 1] = y;
                for (int t = 0; t < flows.Count; t++)
                {
                    var (u, v) = MetricFlow.Sample(flows.Forward[t], h, w, x, y);
                    x += u; y += v;
                    xy[(n * frames + t + 1) * 2] = x;
                    xy[(n * frames + t + 1) * 2 + 1] = y;
                }
            }
        return new PointTracks(points, frames, xy);
    }
}

/// <summary>
/// Motion fidelity (the SMM score of Yatim et al., used by DiTFlow and FlowMotion): how well the motion of a generated
/// video follows a source video's, from the directions of their point tracks. 1 when every generated track has a source
/// track moving the same direction at every step; -1 for exactly opposed motion.
/// </summary>
public static class MotionFidelity
{
    /// <summary>Default number of grid points per side (16 x 16 = 256 tracks).</summary>
    public const int DefaultGridSize = 16;

    /// <summary>
    /// Tracks the same grid through both videos (<see cref="PointTracks.FromFlow"/>, the stand-in for CoTracker), after
    /// trimming both to the shorter length; displacements d_{n,t} = p_{n,t+1} - p_{n,t} are normalised to unit length (a
    /// zero displacement stays zero, as torch's F.normalize leaves it); S[n, m] = mean_t &lt;dgen_{n,t}, dsrc_{m,t}&gt;
    /// and MF = mean_n max_m S[n, m] (one-sided, as in the released code). Both videos must have the same H and W.
    /// </summary>
    public static double Compute(Tensor generated, Tensor source, int gridSize = DefaultGridSize, MetricFlow? flow = null)
    {
        var gen = VideoFrames.From(generated, "MotionFidelity");
        var src = VideoFrames.From(source, "MotionFidelity");
        if (gen.Height != src.Height || gen.Width != src.Width)
            throw new ArgumentException($"MotionFidelity.Compute: generated video {generated.Shape} and source video {source.Shape} differ in size; expected the same H and W.");
        flow ??= MetricFlow.Fast;
        int frames = Math.Min(gen.Count, src.Count);
        var genTracks = PointTracks.FromFlow(Trimmed(flow, gen, frames), gridSize);
        var srcTracks = PointTracks.FromFlow(Trimmed(flow, src, frames), gridSize);
        return Score(genTracks, srcTracks);
    }

    /// <summary>The SMM score of two sets of tracks with the same number of frames (see <see cref="Compute"/>).</summary>
    public static double Score(PointTracks generated, PointTracks source)
    {
        if (generated.Frames != source.Frames || generated.Frames < 2)
            throw new ArgumentException($"MotionFidelity.Score: tracks have {generated.Frames} and {source.Frames} frames; expected the same number, at least 2.");
        int steps = generated.Frames - 1;
        var dg = UnitDisplacements(generated);
        var ds = UnitDisplacements(source);
        double total = 0;
        for (int n = 0; n < generated.Points; n++)
        {
            double best = double.NegativeInfinity;
            for (int m = 0; m < source.Points; m++)
            {
                double s = 0;
                int a = n * steps * 2, b = m * steps * 2;
                for (int k = 0; k < steps * 2; k++) s += dg[a + k] * ds[b + k];
                best = Math.Max(best, s / steps);
            }
            total += best;
        }
        return total / generated.Points;
    }

    private static FlowPairs Trimmed(MetricFlow flow, VideoFrames frames, int count)
    {
        var fwd = new List<float[]>(count - 1);
        for (int t = 0; t + 1 < count; t++) fwd.Add(flow.Estimate(frames, t, t + 1));
        return new FlowPairs(fwd, null, 1, frames.Height, frames.Width);
    }

    /// <summary>[point, step, 2] unit displacement vectors (zero where a point did not move).</summary>
    private static double[] UnitDisplacements(PointTracks tracks)
    {
        int steps = tracks.Frames - 1;
        var d = new double[tracks.Points * steps * 2];
        for (int n = 0; n < tracks.Points; n++)
            for (int t = 0; t < steps; t++)
            {
                var (x0, y0) = tracks.At(n, t);
                var (x1, y1) = tracks.At(n, t + 1);
                double dx = x1 - x0, dy = y1 - y0;
                double norm = Math.Max(Math.Sqrt(dx * dx + dy * dy), 1e-12);
                d[(n * steps + t) * 2] = dx / norm;
                d[(n * steps + t) * 2 + 1] = dy / norm;
            }
        return d;
    }
}
