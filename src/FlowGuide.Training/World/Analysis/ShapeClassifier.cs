using FlowGuide.Training.World;

namespace FlowGuide.Training.World.Analysis;

/// <summary>The silhouette features <see cref="ShapeClassifier"/> decides from, for one blob in one frame.</summary>
/// <param name="Area">Pixels in the blob.</param>
/// <param name="HoleArea">Pixels outside the blob that the blob encloses (not reachable from its bounding box's border).</param>
/// <param name="Convexity">Area over the area of the convex hull of the blob's pixel squares (1 for convex shapes).</param>
/// <param name="Anisotropy">Ratio of the larger to the smaller eigenvalue of the blob's second-moment matrix.</param>
/// <param name="Fill">Area over the area of the circle about the centroid through the farthest pixel corner.</param>
public readonly record struct ShapeFeatures(int Area, int HoleArea, double Convexity, double Anisotropy, double Fill);

/// <summary>
/// A cheap guess of which of the world's silhouettes a blob is, from rotation-invariant features: a hole means a ring;
/// low convexity a star (its hull is a pentagon about twice its area); strong elongation a diamond (axes 0.7 : 1.05);
/// among the rest, how much of its circumscribed circle the blob fills: a circle nearly all (0.9 radius circle inside a
/// 0.9 circle), a square about 0.64, a triangle about 0.41. Small blobs (radius of a few pixels) blur every feature, so
/// callers vote over frames.
/// </summary>
public static class ShapeClassifier
{
    /// <summary>Below this many pixels a blob is too small to guess.</summary>
    public const int MinArea = 12;

    /// <summary>Computes the features of a blob given by its pixel indices (y * W + x) in an H x W frame.</summary>
    public static ShapeFeatures Measure(IReadOnlyList<int> pixels, int height, int width)
    {
        int n = pixels.Count;
        if (n == 0) throw new ArgumentException("ShapeClassifier.Measure: the blob has no pixels.");
        // 1. bounding box, centroid, second moments (pixel centres, plus 1/12 for each pixel's own extent)
        int x0 = int.MaxValue, y0 = int.MaxValue, x1 = -1, y1 = -1;
        double sx = 0, sy = 0;
        foreach (int p in pixels)
        {
            int y = p / width, x = p % width;
            x0 = Math.Min(x0, x); x1 = Math.Max(x1, x); y0 = Math.Min(y0, y); y1 = Math.Max(y1, y);
            sx += x + 0.5; sy += y + 0.5;
        }
        double cx = sx / n, cy = sy / n, mxx = 0, myy = 0, mxy = 0, rmax2 = 0;
        foreach (int p in pixels)
        {
            int y = p / width, x = p % width;
            double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
            mxx += dx * dx; myy += dy * dy; mxy += dx * dy;
            for (int c = 0; c < 4; c++)
            {
                double ex = x + (c & 1) - cx, ey = y + (c >> 1) - cy;
                rmax2 = Math.Max(rmax2, ex * ex + ey * ey);
            }
        }
        mxx = mxx / n + 1.0 / 12; myy = myy / n + 1.0 / 12; mxy /= n;
        double tr = mxx + myy, det = mxx * myy - mxy * mxy;
        double disc = Math.Sqrt(Math.Max(tr * tr / 4 - det, 0));
        double anisotropy = (tr / 2 + disc) / Math.Max(tr / 2 - disc, 1e-9);

        // 2. holes: flood the complement from the border of the box grown by one pixel
        int bw = x1 - x0 + 3, bh = y1 - y0 + 3;
        var inside = new bool[bw * bh];
        foreach (int p in pixels) inside[(p / width - y0 + 1) * bw + p % width - x0 + 1] = true;
        var reached = new bool[bw * bh];
        var stack = new Stack<int>();
        stack.Push(0);
        reached[0] = true;
        int outside = 0;
        Span<int> next = stackalloc int[4];
        while (stack.Count > 0)
        {
            int q = stack.Pop();
            outside++;
            int qy = q / bw, qx = q % bw;
            next[0] = qx > 0 ? q - 1 : -1;
            next[1] = qx < bw - 1 ? q + 1 : -1;
            next[2] = qy > 0 ? q - bw : -1;
            next[3] = qy < bh - 1 ? q + bw : -1;
            foreach (int r in next)
                if (r >= 0 && !reached[r] && !inside[r]) { reached[r] = true; stack.Push(r); }
        }
        int holes = bw * bh - n - outside;

        // 3. convexity against the hull of the pixel squares' corners
        double hull = HullArea(pixels, width);
        return new ShapeFeatures(n, holes, n / Math.Max(hull, 1e-9), anisotropy, n / (Math.PI * rmax2));
    }

    /// <summary>The guess for one blob, or null when it is smaller than <see cref="MinArea"/>.</summary>
    public static ShapeKind? Guess(ShapeFeatures f)
    {
        if (f.Area < MinArea) return null;
        if (f.HoleArea >= Math.Max(2, 0.06 * f.Area)) return ShapeKind.Ring;
        if (f.Convexity < 0.72) return ShapeKind.Star;
        if (f.Anisotropy > 1.6) return ShapeKind.Diamond;
        if (f.Fill > 0.76) return ShapeKind.Circle;
        return f.Fill > 0.5 ? ShapeKind.Square : ShapeKind.Triangle;
    }

    /// <summary>Area of the convex hull of the corners of the given pixels (monotone chain).</summary>
    private static double HullArea(IReadOnlyList<int> pixels, int width)
    {
        // only the leftmost and rightmost pixel of each row can contribute hull corners
        var rows = new SortedDictionary<int, (int Min, int Max)>();
        foreach (int p in pixels)
        {
            int y = p / width, x = p % width;
            rows[y] = rows.TryGetValue(y, out var r) ? (Math.Min(r.Min, x), Math.Max(r.Max, x)) : (x, x);
        }
        var pts = new List<(long X, long Y)>(rows.Count * 4);
        foreach (var (y, (lo, hi)) in rows)
        {
            pts.Add((lo, y)); pts.Add((lo, y + 1)); pts.Add((hi + 1, y)); pts.Add((hi + 1, y + 1));
        }
        pts.Sort((a, b) => a.X != b.X ? a.X.CompareTo(b.X) : a.Y.CompareTo(b.Y));
        var h = new (long X, long Y)[2 * pts.Count];
        int k = 0;
        static long Cross((long X, long Y) o, (long X, long Y) a, (long X, long Y) b) => (a.X - o.X) * (b.Y - o.Y) - (a.Y - o.Y) * (b.X - o.X);
        for (int i = 0; i < pts.Count; i++)
        {
            while (k >= 2 && Cross(h[k - 2], h[k - 1], pts[i]) <= 0) k--;
            h[k++] = pts[i];
        }
        for (int i = pts.Count - 2, lower = k + 1; i >= 0; i--)
        {
            while (k >= lower && Cross(h[k - 2], h[k - 1], pts[i]) <= 0) k--;
            h[k++] = pts[i];
        }
        long area2 = 0;
        for (int i = 0; i + 1 < k; i++) area2 += h[i].X * h[i + 1].Y - h[i + 1].X * h[i].Y;
        return Math.Abs(area2) / 2.0;
    }
}
