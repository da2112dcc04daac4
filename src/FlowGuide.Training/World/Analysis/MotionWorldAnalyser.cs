using FlowGuide.Metrics;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training.World.Analysis;

/// <summary>Where the tracked blob was in one frame.</summary>
/// <param name="X">Centroid x in pixels (pixel i spans [i, i + 1)).</param>
/// <param name="Y">Centroid y in pixels (down).</param>
/// <param name="Area">Pixels of the asked colour in the blob.</param>
/// <param name="R">Mean red of the blob's pixels in [0, 1].</param>
/// <param name="G">Mean green in [0, 1].</param>
/// <param name="B">Mean blue in [0, 1].</param>
/// <param name="ShadingAngle">
/// Direction (radians, atan2 with y down, so increasing is clockwise on screen) from the blob's darker to its brighter
/// side, or null when too few clean pixels show it: the world shades a shape along its own x axis, so this angle turns
/// with the shape even for a circle.
/// </param>
/// <param name="Shape">The silhouette guess of this frame (null when too small).</param>
public sealed record BlobObservation(double X, double Y, int Area, double R, double G, double B, double? ShadingAngle, ShapeKind? Shape);

/// <summary>What <see cref="MotionWorldAnalyser"/> found in one video.</summary>
/// <param name="Prompt">The parsed prompt.</param>
/// <param name="ColourFound">The asked colour forms a blob of at least the minimum area in at least half the frames.</param>
/// <param name="PresentFraction">Fraction of frames where it does.</param>
/// <param name="MotionAgrees">The tracked blob does what the prompt asks (see <see cref="MotionCheck"/>); false when the colour was not found.</param>
/// <param name="MotionCheck">What was checked for this prompt's motion, in words.</param>
/// <param name="Observed">What was measured, in words (for reports and failures).</param>
/// <param name="ObservedDirection">The eight-way direction of the blob's fitted displacement, null when it moved less than the threshold.</param>
/// <param name="ShapeGuess">The majority silhouette guess over frames, null when no frame had a large enough blob.</param>
/// <param name="AreaCv">Coefficient of variation (std / mean) of the blob's area over the frames where it is present; 0 = constant size.</param>
/// <param name="ColourCv">RMS distance of the per-frame mean colour from its average, over the average's length; 0 = constant colour.</param>
/// <param name="AreaJitter">Mean |A_{t+1} - A_t| / mean A over consecutive present frames: shape flicker, insensitive to smooth growth.</param>
/// <param name="Track">One observation per frame, null where the blob is absent.</param>
public sealed record WorldAnalysis(
    WorldPrompt Prompt, bool ColourFound, double PresentFraction, bool MotionAgrees, string MotionCheck, string Observed,
    Direction? ObservedDirection, ShapeKind? ShapeGuess, double AreaCv, double ColourCv, double AreaJitter,
    IReadOnlyList<BlobObservation?> Track)
{
    /// <summary>Whether the shape guess names the prompt's shape (false when there is no guess).</summary>
    public bool ShapeAgrees => ShapeGuess == Prompt.Subject.Shape;
}

/// <summary>
/// Prompt adherence and shape stability for motion-world videos: segments each frame by the prompt's subject colour
/// (<see cref="ColourSegmenter"/>), tracks the blob (largest component plus nearby fragments), and checks its motion:
/// <list type="bullet">
/// <item>moves DIRECTION / camera pans: the least-squares velocity of the centroid, times the clip length, is at least
/// <see cref="MoveThreshold"/> of min(H, W) and its eight-way direction (<see cref="CaptionGrammar.DirectionOf"/>) is
/// the asked one (for a pan, the opposite of the camera's);</item>
/// <item>stays still: that displacement and every centroid's distance from the mean stay below the threshold;</item>
/// <item>bounces around: some coordinate of the centroid turns back (rises, then falls, each by half the threshold);</item>
/// <item>orbits (counter)clockwise: the signed area enclosed by the centroid path (closed by its chord; positive is
/// clockwise with y down) has the asked sign and at least (0.04 min(H, W))^2 pixels;</item>
/// <item>grows / shrinks: the fitted log-area trend over the clip is above log 1.4 / below -log 1.4;</item>
/// <item>spins (counter)clockwise: the shading direction (see <see cref="BlobObservation.ShadingAngle"/>) turns at
/// least 20 degrees in the asked sense.</item>
/// </list>
/// </summary>
public sealed class MotionWorldAnalyser
{
    /// <summary>An analyser with the default thresholds.</summary>
    public static MotionWorldAnalyser Default { get; } = new();

    /// <summary>Creates an analyser; see the properties for the thresholds.</summary>
    public MotionWorldAnalyser(ColourSegmenter? segmenter = null, double moveThreshold = 0.1, double minAreaFraction = 0.0015)
    {
        if (!(moveThreshold > 0) || !(minAreaFraction > 0))
            throw new ArgumentException($"MotionWorldAnalyser: moveThreshold {moveThreshold} and minAreaFraction {minAreaFraction} must be positive.");
        Segmenter = segmenter ?? new ColourSegmenter();
        MoveThreshold = moveThreshold;
        MinAreaFraction = minAreaFraction;
    }

    public ColourSegmenter Segmenter { get; }

    /// <summary>Smallest displacement over the clip, as a fraction of min(H, W), that counts as moving (default 0.1).</summary>
    public double MoveThreshold { get; }

    /// <summary>Smallest blob, as a fraction of H x W (at least 4 pixels), that counts as present (default 0.0015).</summary>
    public double MinAreaFraction { get; }

    /// <summary>Analyses <paramref name="video"/> ([3, F, H, W] in [-1, 1]) against a prompt (parsed with <see cref="WorldPrompt.Parse"/>).</summary>
    public WorldAnalysis Analyse(Tensor video, string prompt) => Analyse(video, WorldPrompt.Parse(prompt));

    /// <summary>Analyses <paramref name="video"/> ([3, F, H, W] in [-1, 1]) against a parsed prompt.</summary>
    public WorldAnalysis Analyse(Tensor video, WorldPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var frames = VideoFrames.From(video, "MotionWorldAnalyser");
        int target = (int)prompt.Subject.Color;
        int minArea = Math.Max(4, (int)Math.Ceiling(MinAreaFraction * frames.Plane));
        var track = new BlobObservation?[frames.Count];
        for (int t = 0; t < frames.Count; t++) track[t] = Observe(frames, t, target, minArea);
        return Judge(prompt, track, frames.Height, frames.Width);
    }

    /// <summary>Segments frame t by the target colour and measures the blob, or null when it is absent.</summary>
    private BlobObservation? Observe(VideoFrames frames, int t, int target, int minArea)
    {
        int h = frames.Height, w = frames.Width, plane = frames.Plane;
        var frame = frames[t];
        var (labels, dist, shade) = Segmenter.Label(frame, h, w);
        var mask = new bool[plane];
        for (int i = 0; i < plane; i++) mask[i] = labels[i] == target;
        var parts = PixelComponent.Find(mask, h, w);
        if (parts.Count == 0) return null;
        // 1. the largest component plus fragments of it (a nearer shape may cut it): big enough and close by
        var main = parts[0];
        double reach = 2 * Math.Sqrt(main.Area);
        var pixels = new List<int>(main.Pixels);
        foreach (var p in parts.Skip(1))
            if (p.Area >= Math.Max(2, 0.2 * main.Area) && Math.Abs(p.CenterX - main.CenterX) + Math.Abs(p.CenterY - main.CenterY) <= reach)
                pixels.AddRange(p.Pixels);
        if (pixels.Count < minArea) return null;

        // 2. centroid and mean colour; shading from the clean pixels (close to the model, not edge-blended)
        double sx = 0, sy = 0, r = 0, g = 0, b = 0, fsum = 0;
        var clean = new List<int>();
        foreach (int p in pixels)
        {
            sx += p % w + 0.5; sy += p / w + 0.5;
            r += (frame[p] + 1) * 0.5; g += (frame[plane + p] + 1) * 0.5; b += (frame[2 * plane + p] + 1) * 0.5;
            if (dist[p] < 0.08 && shade[p] >= 0.7 && shade[p] <= 1.05) { clean.Add(p); fsum += shade[p]; }
        }
        int n = pixels.Count;
        double cx = sx / n, cy = sy / n;
        double? angle = null;
        if (clean.Count >= 8)
        {
            double fmean = fsum / clean.Count, vx = 0, vy = 0, ccx = 0, ccy = 0;
            foreach (int p in clean) { ccx += p % w + 0.5; ccy += p / w + 0.5; }
            ccx /= clean.Count; ccy /= clean.Count;
            foreach (int p in clean)
            {
                double df = shade[p] - fmean;
                vx += df * (p % w + 0.5 - ccx);
                vy += df * (p / w + 0.5 - ccy);
            }
            if (vx != 0 || vy != 0) angle = Math.Atan2(vy, vx);
        }
        var shape = ShapeClassifier.Guess(ShapeClassifier.Measure(pixels, h, w));
        return new BlobObservation(cx, cy, n, r / n, g / n, b / n, angle, shape);
    }

    private WorldAnalysis Judge(WorldPrompt prompt, BlobObservation?[] track, int h, int w)
    {
        int frames = track.Length;
        var present = Enumerable.Range(0, frames).Where(t => track[t] is not null).ToArray();
        double presentFraction = (double)present.Length / frames;
        bool found = present.Length > 0 && presentFraction >= 0.5;
        var (areaCv, colourCv, jitter) = Stability(track, present);
        ShapeKind? shape = track.Where(o => o?.Shape is not null).GroupBy(o => o!.Shape!.Value)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Select(g => (ShapeKind?)g.Key).FirstOrDefault();
        string check = CheckDescription(prompt);
        if (!found || present.Length < 2)
            return new WorldAnalysis(prompt, found, presentFraction, false, check,
                $"{prompt.Subject.Color.Word()} present in {present.Length} of {frames} frames", null, shape, areaCv, colourCv, jitter, track);

        // 1. centroid trend: least-squares velocity over the present frames, as a displacement over the whole clip
        double scale = Math.Min(h, w), threshold = MoveThreshold * scale;
        var xs = present.Select(t => track[t]!.X).ToArray();
        var ys = present.Select(t => track[t]!.Y).ToArray();
        double steps = Math.Max(frames - 1, 1);
        double dx = Slope(present, xs) * steps, dy = Slope(present, ys) * steps;
        double moved = Math.Sqrt(dx * dx + dy * dy);
        Direction? dir = moved >= threshold ? CaptionGrammar.DirectionOf(dx, dy) : null;
        string observed = FormattableString.Invariant($"displacement ({dx:F1}, {dy:F1}) px = {(dir is { } d0 ? d0.Words() : "none")}");

        // 2. the check the prompt's motion asks for
        bool agrees;
        if (prompt.ScreenDirection is { } want)
            agrees = dir == want;
        else
        {
            switch (prompt.Motion)
            {
                case MotionClass.Still:
                {
                    double mx = xs.Average(), my = ys.Average();
                    double spread = present.Max(t => Math.Sqrt(Sq(track[t]!.X - mx) + Sq(track[t]!.Y - my)));
                    agrees = moved < threshold && spread < threshold;
                    observed += FormattableString.Invariant($", largest distance from the mean {spread:F1} px");
                    break;
                }
                case MotionClass.Bounce:
                {
                    double turn = Math.Max(TurnBack(xs), TurnBack(ys));
                    agrees = turn >= threshold / 2;
                    observed += FormattableString.Invariant($", largest turn-back {turn:F1} px");
                    break;
                }
                case MotionClass.OrbitClockwise or MotionClass.OrbitCounterClockwise:
                {
                    double area = SignedArea(xs, ys), need = Sq(0.04 * scale);
                    agrees = prompt.Motion == MotionClass.OrbitClockwise ? area >= need : area <= -need;
                    observed += FormattableString.Invariant($", signed path area {area:F1} px^2 (+ = clockwise)");
                    break;
                }
                case MotionClass.Grow or MotionClass.Shrink:
                {
                    var logs = present.Select(t => Math.Log(track[t]!.Area)).ToArray();
                    double ratio = Math.Exp(Slope(present, logs) * steps);
                    agrees = prompt.Motion == MotionClass.Grow ? ratio >= 1.4 : ratio <= 1 / 1.4;
                    observed += FormattableString.Invariant($", area ratio over the clip {ratio:F2}");
                    break;
                }
                case MotionClass.SpinClockwise or MotionClass.SpinCounterClockwise:
                {
                    double turned = Turned(track) * 180 / Math.PI;
                    agrees = prompt.Motion == MotionClass.SpinClockwise ? turned >= 20 : turned <= -20;
                    observed += FormattableString.Invariant($", shading turned {turned:F0} degrees (+ = clockwise)");
                    break;
                }
                default:
                    agrees = false;
                    break;
            }
        }
        return new WorldAnalysis(prompt, found, presentFraction, agrees, check, observed, dir, shape, areaCv, colourCv, jitter, track);
    }

    private string CheckDescription(WorldPrompt p)
    {
        if (p.Pan is { } pan) return $"camera pans {pan.Words()}: the subject travels {WorldPrompt.Opposite(pan).Words()} on screen by at least {MoveThreshold} min(H, W)";
        return p.Motion switch
        {
            <= MotionClass.MoveDownRight => $"travels {((Direction)(int)p.Motion).Words()} by at least {MoveThreshold} min(H, W)",
            MotionClass.Still => $"travels less than {MoveThreshold} min(H, W) and stays within it of its mean position",
            MotionClass.Bounce => $"a centroid coordinate turns back by at least {MoveThreshold / 2} min(H, W)",
            MotionClass.OrbitClockwise => "the centroid path encloses a clockwise signed area of at least (0.04 min(H, W))^2",
            MotionClass.OrbitCounterClockwise => "the centroid path encloses a counterclockwise signed area of at least (0.04 min(H, W))^2",
            MotionClass.Grow => "the area grows by a factor of at least 1.4 over the clip",
            MotionClass.Shrink => "the area shrinks by a factor of at least 1.4 over the clip",
            MotionClass.SpinClockwise => "the shading direction turns clockwise by at least 20 degrees",
            _ => "the shading direction turns counterclockwise by at least 20 degrees",
        };
    }

    private static (double AreaCv, double ColourCv, double Jitter) Stability(BlobObservation?[] track, int[] present)
    {
        if (present.Length == 0) return (double.NaN, double.NaN, double.NaN);
        var obs = present.Select(t => track[t]!).ToArray();
        double meanA = obs.Average(o => (double)o.Area);
        double sdA = Math.Sqrt(obs.Average(o => Sq(o.Area - meanA)));
        double mr = obs.Average(o => o.R), mg = obs.Average(o => o.G), mb = obs.Average(o => o.B);
        double rms = Math.Sqrt(obs.Average(o => Sq(o.R - mr) + Sq(o.G - mg) + Sq(o.B - mb)));
        double norm = Math.Sqrt(mr * mr + mg * mg + mb * mb);
        double jump = 0;
        int pairs = 0;
        for (int k = 0; k + 1 < present.Length; k++)
            if (present[k + 1] == present[k] + 1) { jump += Math.Abs(track[present[k + 1]]!.Area - track[present[k]]!.Area); pairs++; }
        return (sdA / meanA, norm > 0 ? rms / norm : double.NaN, pairs > 0 ? jump / pairs / meanA : double.NaN);
    }

    /// <summary>Least-squares slope of v against t.</summary>
    private static double Slope(int[] t, double[] v)
    {
        double mt = t.Average(), mv = v.Average(), num = 0, den = 0;
        for (int i = 0; i < t.Length; i++) { num += (t[i] - mt) * (v[i] - mv); den += Sq(t[i] - mt); }
        return den > 0 ? num / den : 0;
    }

    /// <summary>How far a sequence rises and then falls back (or falls and rises), the smaller of the two legs, maximised over turning points.</summary>
    private static double TurnBack(double[] v)
    {
        double best = 0;
        for (int k = 1; k + 1 < v.Length; k++)
        {
            double beforeMin = v.Take(k).Min(), beforeMax = v.Take(k).Max();
            double afterMin = v.Skip(k + 1).Min(), afterMax = v.Skip(k + 1).Max();
            best = Math.Max(best, Math.Min(v[k] - beforeMin, v[k] - afterMin)); // a peak
            best = Math.Max(best, Math.Min(beforeMax - v[k], afterMax - v[k])); // a trough
        }
        return best;
    }

    /// <summary>Shoelace area of the path closed by its chord; positive is clockwise on screen (y down).</summary>
    private static double SignedArea(double[] xs, double[] ys)
    {
        double a = 0;
        int n = xs.Length;
        for (int i = 0; i < n; i++)
        {
            int j = (i + 1) % n;
            a += xs[i] * ys[j] - xs[j] * ys[i];
        }
        return a / 2;
    }

    /// <summary>Total change of the shading angle over consecutive frames where it is known, each step wrapped to (-pi, pi].</summary>
    private static double Turned(BlobObservation?[] track)
    {
        double total = 0;
        double? prev = null;
        foreach (var o in track)
        {
            if (o?.ShadingAngle is not { } a) continue;
            if (prev is { } p)
            {
                double d = a - p;
                while (d > Math.PI) d -= 2 * Math.PI;
                while (d <= -Math.PI) d += 2 * Math.PI;
                total += d;
            }
            prev = a;
        }
        return total;
    }

    private static double Sq(double x) => x * x;
}
