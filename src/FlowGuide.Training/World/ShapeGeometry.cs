using FlowGuide.Tensors;

namespace FlowGuide.Training.World;

/// <summary>
/// The unit silhouettes: membership tests in the shape's local frame (centre at the origin, radius 1, y down) and
/// their exact areas. Polygon vertices come from <see cref="DeterministicMath"/>, so every machine gets the same bits.
/// </summary>
public static class ShapeGeometry
{
    /// <summary>Every unit silhouette lies inside this radius (the star's and triangle's tips).</summary>
    public const double BoundingRadius = 1.1;

    private const double CircleRadius = 0.9;
    private const double SquareHalf = 0.75;
    private const double RingInner = 0.5, RingOuter = 0.95;
    private const double DiamondHalfWidth = 0.7, DiamondHalfHeight = 1.05;

    private static readonly double[] TriangleX, TriangleY, StarX, StarY;

    static ShapeGeometry()
    {
        (TriangleX, TriangleY) = StarPolygon(3, 1.1, 1.1);
        (StarX, StarY) = StarPolygon(5, 1.1, 0.45);
    }

    /// <summary>
    /// Vertices of a regular polygon (inner == outer) or star with <paramref name="points"/> tips, the first tip
    /// pointing up (towards -y).
    /// </summary>
    private static (double[] X, double[] Y) StarPolygon(int points, double outer, double inner)
    {
        bool star = inner != outer;
        int n = star ? 2 * points : points;
        var xs = new double[n];
        var ys = new double[n];
        double step = 2 * Math.PI / n; // Math.PI is a constant; only its products are computed
        for (int i = 0; i < n; i++)
        {
            double r = star && i % 2 == 1 ? inner : outer;
            var (s, c) = DeterministicMath.SinCos(i * step - Math.PI / 2);
            xs[i] = r * c;
            ys[i] = r * s;
        }
        return (xs, ys);
    }

    /// <summary>Whether the local point (x, y) lies inside the unit silhouette of <paramref name="kind"/>.</summary>
    public static bool Contains(ShapeKind kind, double x, double y)
    {
        switch (kind)
        {
            case ShapeKind.Circle:
                return x * x + y * y <= CircleRadius * CircleRadius;
            case ShapeKind.Square:
                return Math.Abs(x) <= SquareHalf && Math.Abs(y) <= SquareHalf;
            case ShapeKind.Ring:
            {
                double r2 = x * x + y * y;
                return r2 <= RingOuter * RingOuter && r2 >= RingInner * RingInner;
            }
            case ShapeKind.Diamond:
                return Math.Abs(x) / DiamondHalfWidth + Math.Abs(y) / DiamondHalfHeight <= 1;
            case ShapeKind.Triangle:
                return InPolygon(TriangleX, TriangleY, x, y);
            case ShapeKind.Star:
                return InPolygon(StarX, StarY, x, y);
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), $"ShapeGeometry.Contains: unknown shape {(int)kind}.");
        }
    }

    /// <summary>Area of the unit silhouette (multiply by radius^2 for the drawn area).</summary>
    public static double UnitArea(ShapeKind kind) => kind switch
    {
        ShapeKind.Circle => Math.PI * CircleRadius * CircleRadius,
        ShapeKind.Square => 4 * SquareHalf * SquareHalf,
        ShapeKind.Ring => Math.PI * (RingOuter * RingOuter - RingInner * RingInner),
        ShapeKind.Diamond => 2 * DiamondHalfWidth * DiamondHalfHeight,
        ShapeKind.Triangle => PolygonArea(TriangleX, TriangleY),
        ShapeKind.Star => PolygonArea(StarX, StarY),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), $"ShapeGeometry.UnitArea: unknown shape {(int)kind}."),
    };

    /// <summary>Even-odd crossing test against a closed polygon.</summary>
    private static bool InPolygon(double[] xs, double[] ys, double x, double y)
    {
        bool inside = false;
        int n = xs.Length;
        for (int i = 0, j = n - 1; i < n; j = i++)
        {
            double yi = ys[i], yj = ys[j];
            if ((yi > y) != (yj > y))
            {
                double xCross = xs[j] + (y - yj) * (xs[i] - xs[j]) / (yi - yj);
                if (x < xCross) inside = !inside;
            }
        }
        return inside;
    }

    private static double PolygonArea(double[] xs, double[] ys)
    {
        double a = 0;
        for (int i = 0, j = xs.Length - 1; i < xs.Length; j = i++) a += xs[j] * ys[i] - xs[i] * ys[j];
        return Math.Abs(a) / 2;
    }
}
