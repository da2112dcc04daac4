using FlowGuide.Tensors;

namespace FlowGuide.Training.World;

/// <summary>
/// The random choices behind <see cref="MotionWorld.Sample"/>: turns a (shape, colour, motion class) into concrete
/// numbers for a clip of a given length, and draws backgrounds and camera pans. Every magnitude is "per clip" and is
/// divided by the number of frame steps, so a clip always shows the whole motion.
/// </summary>
internal sealed class SpecSampler
{
    private const double TwoPi = 2 * Math.PI;
    private static readonly double Diagonal = Math.Sqrt(0.5);

    private readonly Rng _rng;
    private readonly double _steps, _aspect;

    public SpecSampler(Rng rng, int frames, double aspect)
    {
        _rng = rng;
        _steps = Math.Max(frames - 1, 1);
        _aspect = aspect;
    }

    /// <summary>
    /// How far (in frame heights) a straight-moving subject's mid-clip position may lie from the frame centre along its
    /// heading. Small, so a subject that "moves left across" the frame starts right of the centre and ends left of it.
    /// </summary>
    public const double SubjectAlongJitter = 0.08;

    /// <summary>How far (frame heights) it may lie from the centre across its heading (the other subjects' central range).</summary>
    public const double SubjectAcrossJitter = 0.2;

    private double Uniform(double lo, double hi) => lo + (hi - lo) * _rng.UniformDouble();

    private static double SizeRadius(SizeClass size) => size switch
    {
        SizeClass.Small => 0.075,
        SizeClass.Medium => 0.105,
        _ => 0.14,
    };

    /// <summary>The unit vector of a direction (x right, y down).</summary>
    internal static (double X, double Y) Unit(Direction d) => d switch
    {
        Direction.Left => (-1, 0),
        Direction.Right => (1, 0),
        Direction.Up => (0, -1),
        Direction.Down => (0, 1),
        Direction.UpLeft => (-Diagonal, -Diagonal),
        Direction.UpRight => (Diagonal, -Diagonal),
        Direction.DownLeft => (-Diagonal, Diagonal),
        _ => (Diagonal, Diagonal),
    };

    /// <summary>A shape performing <paramref name="motion"/>; the subject is placed near the centre, companions anywhere.</summary>
    public ShapeSpec Shape(ShapeKind kind, ColorName color, MotionClass motion, bool subject)
    {
        var size = motion switch
        {
            MotionClass.Grow => (SizeClass)_rng.NextInt(2),        // small or medium
            MotionClass.Shrink => (SizeClass)(1 + _rng.NextInt(2)), // medium or large
            _ => (SizeClass)_rng.NextInt(3),
        };
        double radius = SizeRadius(size) * Uniform(0.95, 1.05);
        var speed = (Speed)_rng.NextInt(2);
        bool fast = speed == Speed.Fast;
        double extent = radius * ShapeGeometry.BoundingRadius;
        // mid-clip position: central for the subject, anywhere inside the frame for companions
        double lo = subject ? 0.3 : 0.15, hi = subject ? 0.7 : 0.85;
        double ux = _rng.UniformDouble(), uy = _rng.UniformDouble();
        double mx = _aspect * (lo + (hi - lo) * ux), my = lo + (hi - lo) * uy;
        var m = new MotionSpec { Kind = MotionKind.Still, Speed = speed };
        double cx = mx, cy = my;

        switch (motion)
        {
            case <= MotionClass.MoveDownRight:
            {
                var (dx, dy) = Unit((Direction)(int)motion);
                double v = (fast ? 0.6 : 0.3) / _steps;
                m = m with { Kind = MotionKind.Linear, VelocityX = dx * v, VelocityY = dy * v };
                if (subject)
                {
                    // the subject moves across the frame: it passes within SubjectAlongJitter of the centre along its
                    // heading and within SubjectAcrossJitter across it, so where it starts tells which way it goes
                    // (the same two draws as every other clip, so other clips are unchanged)
                    double along = SubjectAlongJitter * (2 * ux - 1), across = SubjectAcrossJitter * (2 * uy - 1);
                    (mx, my) = (_aspect / 2 + along * dx - across * dy, 0.5 + along * dy + across * dx);
                }
                (cx, cy) = (mx - dx * v * _steps / 2, my - dy * v * _steps / 2);
                break;
            }
            case MotionClass.Bounce:
            {
                // a heading off the axes, then a start that meets a wall between 20% and 80% of the clip
                double ax = Uniform(0.4, 1) * (_rng.NextInt(2) == 0 ? -1 : 1), ay = Uniform(0.4, 1) * (_rng.NextInt(2) == 0 ? -1 : 1);
                double norm = Math.Sqrt(ax * ax + ay * ay);
                double v = (fast ? 1.6 : 0.9) / _steps;
                double vx = ax / norm * v, vy = ay / norm * v;
                m = m with { Kind = MotionKind.Bounce, VelocityX = vx, VelocityY = vy };
                double hitAt = Uniform(0.2, 0.8) * _steps;
                if (Math.Abs(vx) >= Math.Abs(vy))
                    (cx, cy) = ((vx > 0 ? _aspect - extent : extent) - vx * hitAt, Uniform(extent, 1 - extent));
                else
                    (cx, cy) = (Uniform(extent, _aspect - extent), (vy > 0 ? 1 - extent : extent) - vy * hitAt);
                break;
            }
            case MotionClass.OrbitClockwise or MotionClass.OrbitCounterClockwise:
            {
                double r = Uniform(0.12, 0.22);
                double omega = (fast ? 0.6 : 0.3) * TwoPi / _steps * (motion == MotionClass.OrbitClockwise ? 1 : -1);
                double ox = Clamp(mx, r + extent, _aspect - r - extent), oy = Clamp(my, r + extent, 1 - r - extent);
                double phase = Uniform(0, TwoPi);
                m = m with
                {
                    Kind = MotionKind.Orbit, OrbitCenterX = ox, OrbitCenterY = oy, OrbitRadius = r,
                    OrbitPhase = phase, AngularVelocity = omega,
                };
                var (s, c) = DeterministicMath.SinCos(phase);
                (cx, cy) = (ox + r * c, oy + r * s);
                break;
            }
            case MotionClass.Grow:
                m = m with { Kind = MotionKind.Grow, ScaleRate = ((fast ? 2.0 : 1.5) - 1) / _steps };
                break;
            case MotionClass.Shrink:
                m = m with { Kind = MotionKind.Shrink, ScaleRate = ((fast ? 0.45 : 0.65) - 1) / _steps };
                break;
            case MotionClass.SpinClockwise or MotionClass.SpinCounterClockwise:
            {
                double omega = (fast ? 0.5 : 0.25) * TwoPi / _steps * (motion == MotionClass.SpinClockwise ? 1 : -1);
                m = m with { Kind = MotionKind.Rotate, AngularVelocity = omega };
                break;
            }
        }
        return new ShapeSpec { Kind = kind, Color = color, Size = size, Radius = radius, CenterX = cx, CenterY = cy, Motion = m };
    }

    private static double Clamp(double x, double lo, double hi) => lo > hi ? (lo + hi) / 2 : Math.Clamp(x, lo, hi);

    /// <summary>A camera pan in one of the eight directions; it travels 0.25 (slow) or 0.5 (fast) frame heights per clip.</summary>
    public CameraPan Pan()
    {
        var speed = (Speed)_rng.NextInt(2);
        var (ux, uy) = Unit((Direction)_rng.NextInt(8));
        double v = (speed == Speed.Fast ? 0.5 : 0.25) / _steps;
        return new CameraPan { VelocityX = ux * v, VelocityY = uy * v, Speed = speed };
    }

    /// <summary>Moves still shapes so that each is at its drawn position on screen at mid-clip while the camera pans.</summary>
    public List<ShapeSpec> PlaceForPan(List<ShapeSpec> shapes, CameraPan pan)
    {
        double dx = pan.VelocityX * _steps / 2, dy = pan.VelocityY * _steps / 2;
        return shapes.Select(s => s with { CenterX = s.CenterX + dx, CenterY = s.CenterY + dy }).ToList();
    }

    /// <summary>
    /// A background: plain (a colour that contrasts with every shape colour in <paramref name="shapeColors"/>),
    /// striped, checkered, gradient or noise (two gray tones at least 0.2 apart), one in five each.
    /// </summary>
    public BackgroundSpec Background(IReadOnlySet<ColorName> shapeColors)
    {
        var kind = (BackgroundKind)_rng.NextInt(5);
        if (kind == BackgroundKind.Plain)
        {
            var options = Palette.PlainBackgroundColors
                .Where(bg => shapeColors.All(c => c.ToRgb().DistanceTo(bg.ToRgb()) >= Palette.MinContrast)).ToArray();
            return BackgroundSpec.Plain(options.Length == 0 ? ColorName.Black : options[_rng.NextInt(options.Length)]);
        }
        var levels = Palette.TextureLevels;
        double a, b;
        do (a, b) = (levels[_rng.NextInt(levels.Count)], levels[_rng.NextInt(levels.Count)]);
        while (Math.Abs(a - b) < 0.2);
        var (dx, dy) = _rng.NextInt(4) switch
        {
            0 => (1.0, 0.0),
            1 => (0.0, 1.0),
            2 => (Diagonal, Diagonal),
            _ => (Diagonal, -Diagonal),
        };
        double period = kind switch
        {
            BackgroundKind.Striped => Uniform(0.12, 0.25),
            BackgroundKind.Checkered => Uniform(0.1, 0.2),
            BackgroundKind.Gradient => Uniform(0.8, 1.5),
            _ => Uniform(0.1, 0.2),
        };
        return new BackgroundSpec
        {
            Kind = kind, ToneA = Rgb.Gray(a), ToneB = Rgb.Gray(b), Period = period, DirectionX = dx, DirectionY = dy,
        };
    }
}
