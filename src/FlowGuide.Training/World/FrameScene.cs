namespace FlowGuide.Training.World;

/// <summary>
/// One frame of a clip, ready for point queries: which shape owns an image point, and its colour. Shapes are tested
/// front to back with a bounding-box reject first.
/// </summary>
internal sealed class FrameScene
{
    /// <summary>How much darker a shape's left edge (local x = -1) is than its right edge: factor 1 - Shade (1 - x) / 2.</summary>
    public const double Shade = 0.25;

    private readonly ShapeKind[] _kinds;
    private readonly Rgb[] _colors;
    private readonly BackgroundField _background;
    private readonly double _invHeight, _camX, _camY;

    public ShapePose[] Poses { get; }

    /// <summary>Camera offset in world units.</summary>
    public (double X, double Y) Camera => (_camX, _camY);

    private readonly double[] _minX, _maxX, _minY, _maxY;

    public FrameScene(ClipSpec spec, BackgroundField background, int frame)
    {
        int n = spec.Shapes.Count;
        _kinds = new ShapeKind[n];
        _colors = new Rgb[n];
        Poses = new ShapePose[n];
        _minX = new double[n]; _maxX = new double[n]; _minY = new double[n]; _maxY = new double[n];
        for (int i = 0; i < n; i++)
        {
            _kinds[i] = spec.Shapes[i].Kind;
            _colors[i] = spec.Shapes[i].Color.ToRgb();
            var p = Kinematics.Pose(spec, i, frame);
            Poses[i] = p;
            double ext = p.Radius * ShapeGeometry.BoundingRadius;
            _minX[i] = p.CenterX - ext; _maxX[i] = p.CenterX + ext;
            _minY[i] = p.CenterY - ext; _maxY[i] = p.CenterY + ext;
        }
        _background = background;
        _invHeight = 1.0 / spec.Height;
        (_camX, _camY) = Kinematics.CameraOffset(spec, frame);
    }

    /// <summary>
    /// True when no shape's bounding box touches the pixel square [x, x+1] x [y, y+1] and the background is plain:
    /// every sample of the pixel then has the same colour, <see cref="PlainColor"/>.
    /// </summary>
    public bool IsPlainPixel(int x, int y)
    {
        if (!_background.IsPlain) return false;
        for (int i = 0; i < Poses.Length; i++)
            if (x <= _maxX[i] && x + 1 >= _minX[i] && y <= _maxY[i] && y + 1 >= _minY[i]) return false;
        return true;
    }

    /// <summary>The colour of a plain background.</summary>
    public Rgb PlainColor => _background.PlainColor;

    /// <summary>The front-most shape covering image point (px, py), or -1 for the background; its local x when a shape.</summary>
    public int OwnerAt(double px, double py, out double localX)
    {
        for (int i = Poses.Length - 1; i >= 0; i--)
        {
            if (px < _minX[i] || px > _maxX[i] || py < _minY[i] || py > _maxY[i]) continue;
            var (qx, qy) = Poses[i].ToLocal(px, py);
            if (ShapeGeometry.Contains(_kinds[i], qx, qy))
            {
                localX = qx;
                return i;
            }
        }
        localX = 0;
        return -1;
    }

    /// <summary>The colour seen at image point (px, py), channels in [0, 1].</summary>
    public void ColorAt(double px, double py, out double r, out double g, out double b)
    {
        int owner = OwnerAt(px, py, out double qx);
        if (owner < 0)
        {
            _background.At(px * _invHeight + _camX, py * _invHeight + _camY, out r, out g, out b);
            return;
        }
        double f = 1 - Shade * (1 - Math.Clamp(qx, -1, 1)) / 2; // the star's and triangle's tips reach |x| = 1.1
        var c = _colors[owner];
        r = c.R * f;
        g = c.G * f;
        b = c.B * f;
    }
}
