using FlowGuide.Training.World;

namespace FlowGuide.Training.World.Analysis;

/// <summary>
/// Labels pixels with the motion world's palette. The world draws a shape of colour c as f c with a shading factor f in
/// [0.75, 1] (darker towards its local left edge) and every background in neutral grays (textures from 0.06 to 0.40,
/// plain black, gray or white). So each shape colour is modelled as the segment {f c : f in [<see cref="MinShading"/>,
/// <see cref="MaxShading"/>]} in RGB, and the background as the gray segment from black to <see cref="MaxBackgroundGray"/>;
/// a pixel takes the label of the nearest model if that distance is at most <see cref="Tolerance"/>, else none.
/// A white shape is the part of the gray axis above the background's (0.65 to 1.05 with the defaults); a plain white
/// background is therefore read as "white", which the world never combines with a white shape.
/// </summary>
public sealed class ColourSegmenter
{
    /// <summary>Label of background pixels.</summary>
    public const int Background = -1;

    /// <summary>Label of pixels near no model.</summary>
    public const int Unknown = -2;

    private readonly double[] _models; // [model, 3] colour of each segment's end at f = 1
    private readonly double[] _lo, _hi;

    /// <summary>Creates a segmenter with the given tolerances (the defaults suit both rendered and generated videos).</summary>
    public ColourSegmenter(double tolerance = 0.3, double minShading = 0.5, double maxShading = 1.05, double maxBackgroundGray = 0.55)
    {
        if (!(tolerance > 0) || !(minShading >= 0 && minShading < maxShading) || !(maxBackgroundGray > 0))
            throw new ArgumentException($"ColourSegmenter: tolerance {tolerance}, shading [{minShading}, {maxShading}] and background gray {maxBackgroundGray} must be positive with minShading < maxShading.");
        Tolerance = tolerance;
        MinShading = minShading;
        MaxShading = maxShading;
        MaxBackgroundGray = maxBackgroundGray;
        int n = Palette.ShapeColorCount + 1;
        _models = new double[n * 3];
        _lo = new double[n];
        _hi = new double[n];
        for (int k = 0; k < Palette.ShapeColorCount; k++)
        {
            var c = ((ColorName)k).ToRgb();
            (_models[3 * k], _models[3 * k + 1], _models[3 * k + 2]) = (c.R, c.G, c.B);
            // white's segment lies on the gray axis: start it above the background grays so that they never tie
            (_lo[k], _hi[k]) = ((ColorName)k == ColorName.White ? Math.Max(minShading, maxBackgroundGray + 0.1) : minShading, maxShading);
        }
        int b = Palette.ShapeColorCount;
        (_models[3 * b], _models[3 * b + 1], _models[3 * b + 2]) = (1, 1, 1);
        (_lo[b], _hi[b]) = (0, maxBackgroundGray);
    }

    /// <summary>The largest RGB distance (channels in [0, 1]) at which a pixel still takes a model's label.</summary>
    public double Tolerance { get; }

    /// <summary>The darkest shading of a shape colour that still counts as that colour.</summary>
    public double MinShading { get; }

    /// <summary>The brightest shading of a shape colour that still counts as that colour.</summary>
    public double MaxShading { get; }

    /// <summary>The brightest gray that counts as background.</summary>
    public double MaxBackgroundGray { get; }

    /// <summary>
    /// The label of one pixel (channels in [0, 1]): a shape colour index (<see cref="ColorName"/> as int),
    /// <see cref="Background"/> or <see cref="Unknown"/>; also the distance to the chosen model and the shading factor
    /// f of the pixel along it.
    /// </summary>
    public int Classify(double r, double g, double b, out double distance, out double shading)
    {
        int best = Unknown;
        distance = double.PositiveInfinity;
        shading = 0;
        int n = _lo.Length;
        for (int j = 0; j < n; j++)
        {
            int k = (j + n - 1) % n; // the background model first, so that it wins ties
            double cr = _models[3 * k], cg = _models[3 * k + 1], cb = _models[3 * k + 2];
            double f = (r * cr + g * cg + b * cb) / (cr * cr + cg * cg + cb * cb);
            double fc = Math.Clamp(f, _lo[k], _hi[k]);
            double dr = r - fc * cr, dg = g - fc * cg, db = b - fc * cb;
            double d = Math.Sqrt(dr * dr + dg * dg + db * db);
            if (d < distance) { distance = d; best = k; shading = f; }
        }
        if (distance > Tolerance) return Unknown;
        return best == n - 1 ? Background : best;
    }

    /// <summary>
    /// Labels every pixel of a planar frame [3, H, W] in [-1, 1]; returns the labels and, per pixel, the distance to the
    /// chosen model and the shading factor along it.
    /// </summary>
    public (int[] Labels, float[] Distance, float[] Shading) Label(float[] frame, int height, int width)
    {
        int plane = height * width;
        if (frame.Length != 3 * plane)
            throw new ArgumentException($"ColourSegmenter.Label: frame has {frame.Length} values, expected 3 x {height} x {width}.");
        var labels = new int[plane];
        var dist = new float[plane];
        var shade = new float[plane];
        for (int i = 0; i < plane; i++)
        {
            labels[i] = Classify((frame[i] + 1) * 0.5, (frame[plane + i] + 1) * 0.5, (frame[2 * plane + i] + 1) * 0.5, out double d, out double f);
            dist[i] = (float)d;
            shade[i] = (float)f;
        }
        return (labels, dist, shade);
    }
}

/// <summary>One 8-connected group of pixels of a binary mask: its pixel indices (y * W + x) and centroid of pixel centres.</summary>
public sealed record PixelComponent(int[] Pixels, double CenterX, double CenterY)
{
    public int Area => Pixels.Length;

    /// <summary>The 8-connected components of <paramref name="mask"/> (H x W, row-major), largest first.</summary>
    public static List<PixelComponent> Find(bool[] mask, int height, int width)
    {
        var seen = new bool[mask.Length];
        var result = new List<PixelComponent>();
        var stack = new Stack<int>();
        var pixels = new List<int>();
        for (int start = 0; start < mask.Length; start++)
        {
            if (!mask[start] || seen[start]) continue;
            pixels.Clear();
            seen[start] = true;
            stack.Push(start);
            double sx = 0, sy = 0;
            while (stack.Count > 0)
            {
                int p = stack.Pop();
                pixels.Add(p);
                int y = p / width, x = p % width;
                sx += x + 0.5;
                sy += y + 0.5;
                for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                {
                    int yy = y + dy, xx = x + dx;
                    if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
                    int q = yy * width + xx;
                    if (mask[q] && !seen[q]) { seen[q] = true; stack.Push(q); }
                }
            }
            result.Add(new PixelComponent(pixels.ToArray(), sx / pixels.Count, sy / pixels.Count));
        }
        result.Sort((a, b) => b.Area.CompareTo(a.Area));
        return result;
    }
}
