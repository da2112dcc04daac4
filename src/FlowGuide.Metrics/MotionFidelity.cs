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
        var (gen, src, _) = Tracks(generated, source, gridSize, flow);
        return Score(gen, src);
    }

    /// <summary>
    /// Both scores from one tracking of the two videos: the field's <see cref="Score"/> and FlowGuide's
    /// <see cref="ScoreMoving"/> at its default thresholds.
    /// </summary>
    public static (double Standard, double Moving) ComputeBoth(Tensor generated, Tensor source, int gridSize = DefaultGridSize, MetricFlow? flow = null)
    {
        var (gen, src, size) = Tracks(generated, source, gridSize, flow);
        return (Score(gen, src), ScoreMoving(gen, src, DefaultDeadzone * size));
    }

    /// <summary>Both videos' tracks after trimming to the shorter one, and the frames' shorter side.</summary>
    private static (PointTracks Generated, PointTracks Source, int MinSide) Tracks(Tensor generated, Tensor source, int gridSize, MetricFlow? flow)
    {
        var gen = VideoFrames.From(generated, "MotionFidelity");
        var src = VideoFrames.From(source, "MotionFidelity");
        if (gen.Height != src.Height || gen.Width != src.Width)
            throw new ArgumentException($"MotionFidelity.Compute: generated video {generated.Shape} and source video {source.Shape} differ in size; expected the same H and W.");
        flow ??= MetricFlow.Fast;
        int frames = Math.Min(gen.Count, src.Count);
        return (PointTracks.FromFlow(Trimmed(flow, gen, frames), gridSize), PointTracks.FromFlow(Trimmed(flow, src, frames), gridSize),
            Math.Min(src.Height, src.Width));
    }

    /// <summary>Default step dead zone of <see cref="ScoreMoving"/> as a fraction of the frame's shorter side (0.32 px at 64x64).</summary>
    public const double DefaultDeadzone = 0.005;

    /// <summary>
    /// FlowGuide's moving-track variant of the score, for videos where most of the frame is still (the motion world: one
    /// shape on a static background). The field's score normalises every displacement, so on still regions it compares
    /// the directions of the estimator's sub-pixel noise: a video against its own VAE reconstruction scores about 0.29
    /// there, no better than an unrelated video (docs/eval-results.md). Here a step shorter than
    /// <paramref name="deadzone"/> pixels counts as no motion; S[n, m] = sum_t &lt;dgen_{n,t}, dsrc_{m,t}&gt; over the
    /// steps where either track moves, divided by their number; tracks with no moving step are left out; and the score is
    /// two-sided, (mean_n max_m S[n, m] + mean_m max_n S[n, m]) / 2 over the moving tracks, so that motion the output
    /// lacks also counts (as in Yatim et al.'s original definition). 1 when the moving tracks match step for step;
    /// -1 for opposed motion; 0 when only one video moves, 1 when neither does.
    /// </summary>
    public static double ScoreMoving(PointTracks generated, PointTracks source, double deadzone)
    {
        if (generated.Frames != source.Frames || generated.Frames < 2)
            throw new ArgumentException($"MotionFidelity.ScoreMoving: tracks have {generated.Frames} and {source.Frames} frames; expected the same number, at least 2.");
        if (!(deadzone >= 0)) throw new ArgumentException($"MotionFidelity.ScoreMoving: deadzone is {deadzone}, expected a non-negative number of pixels.");
        int steps = generated.Frames - 1;
        var dg = UnitDisplacements(generated, deadzone);
        var ds = UnitDisplacements(source, deadzone);
        var gm = MovingTracks(dg, generated.Points, steps);
        var sm = MovingTracks(ds, source.Points, steps);
        if (gm.Count == 0 || sm.Count == 0) return gm.Count == sm.Count ? 1 : 0;
        var bestGen = new double[gm.Count];
        var bestSrc = new double[sm.Count];
        Array.Fill(bestGen, double.NegativeInfinity);
        Array.Fill(bestSrc, double.NegativeInfinity);
        for (int i = 0; i < gm.Count; i++)
            for (int j = 0; j < sm.Count; j++)
            {
                int a = gm[i] * steps * 2, b = sm[j] * steps * 2, active = 0;
                double dot = 0;
                for (int t = 0; t < steps; t++)
                {
                    double gx = dg[a + 2 * t], gy = dg[a + 2 * t + 1], sx = ds[b + 2 * t], sy = ds[b + 2 * t + 1];
                    if (gx == 0 && gy == 0 && sx == 0 && sy == 0) continue;
                    active++;
                    dot += gx * sx + gy * sy;
                }
                double sc = dot / active; // both tracks move somewhere, so active > 0
                bestGen[i] = Math.Max(bestGen[i], sc);
                bestSrc[j] = Math.Max(bestSrc[j], sc);
            }
        return (bestGen.Average() + bestSrc.Average()) / 2;
    }

    private static List<int> MovingTracks(double[] unit, int points, int steps)
    {
        var moving = new List<int>();
        for (int n = 0; n < points; n++)
            for (int k = 0; k < steps * 2; k++)
                if (unit[n * steps * 2 + k] != 0) { moving.Add(n); break; }
        return moving;
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

    /// <summary>[point, step, 2] unit displacement vectors, zero where a point moved <paramref name="deadzone"/> pixels or less (by default: did not move).</summary>
    private static double[] UnitDisplacements(PointTracks tracks, double deadzone = 0)
    {
        int steps = tracks.Frames - 1;
        var d = new double[tracks.Points * steps * 2];
        for (int n = 0; n < tracks.Points; n++)
            for (int t = 0; t < steps; t++)
            {
                var (x0, y0) = tracks.At(n, t);
                var (x1, y1) = tracks.At(n, t + 1);
                double dx = x1 - x0, dy = y1 - y0;
                double len = Math.Sqrt(dx * dx + dy * dy);
                if (deadzone > 0 && len <= deadzone) continue; // stays zero
                double norm = Math.Max(len, 1e-12);
                d[(n * steps + t) * 2] = dx / norm;
                d[(n * steps + t) * 2 + 1] = dy / norm;
            }
        return d;
    }
}
