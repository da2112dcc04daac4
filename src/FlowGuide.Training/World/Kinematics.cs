using FlowGuide.Tensors;

namespace FlowGuide.Training.World;

/// <summary>Where one shape is on screen at one frame: centre and radius in pixels, orientation, scale.</summary>
/// <param name="CenterX">Image x of the centre in pixels (pixel i spans [i, i+1); may lie outside the frame).</param>
/// <param name="CenterY">Image y of the centre in pixels (down).</param>
/// <param name="Radius">Drawn radius in pixels (spec radius x scale x frame height).</param>
/// <param name="Angle">Orientation in radians, clockwise on screen.</param>
/// <param name="Cos">cos(Angle) from <see cref="DeterministicMath"/>.</param>
/// <param name="Sin">sin(Angle) from <see cref="DeterministicMath"/>.</param>
/// <param name="Scale">Grow / shrink factor (1 for other motions).</param>
public readonly record struct ShapePose(double CenterX, double CenterY, double Radius, double Angle, double Cos, double Sin, double Scale)
{
    /// <summary>Maps an image point (pixels) to the shape's unit frame.</summary>
    public (double X, double Y) ToLocal(double px, double py)
    {
        double dx = px - CenterX, dy = py - CenterY, inv = 1 / Radius;
        return ((Cos * dx + Sin * dy) * inv, (Cos * dy - Sin * dx) * inv);
    }

    /// <summary>Maps a point of the shape's unit frame to image pixels (the inverse of <see cref="ToLocal"/>).</summary>
    public (double X, double Y) ToImage(double qx, double qy) =>
        (CenterX + Radius * (Cos * qx - Sin * qy), CenterY + Radius * (Sin * qx + Cos * qy));
}

/// <summary>
/// The closed-form trajectories of the motion world: every pose at frame t is computed directly from the spec
/// (no simulation), so frame t does not depend on how earlier frames were computed.
/// </summary>
public static class Kinematics
{
    /// <summary>The camera's offset in world units at frame t (zero without a pan).</summary>
    public static (double X, double Y) CameraOffset(ClipSpec spec, double t) =>
        spec.Pan is { } pan ? (pan.VelocityX * t, pan.VelocityY * t) : (0, 0);

    /// <summary>The centre of a shape in world units at frame t, before the camera.</summary>
    public static (double X, double Y) WorldCenter(ClipSpec spec, ShapeSpec shape, double t)
    {
        var m = shape.Motion;
        switch (m.Kind)
        {
            case MotionKind.Linear:
                return (shape.CenterX + m.VelocityX * t, shape.CenterY + m.VelocityY * t);
            case MotionKind.Bounce:
            {
                double wall = shape.Radius * ShapeGeometry.BoundingRadius;
                double aspect = (double)spec.Width / spec.Height;
                return (Fold(shape.CenterX + m.VelocityX * t, wall, aspect - wall),
                        Fold(shape.CenterY + m.VelocityY * t, wall, 1 - wall));
            }
            case MotionKind.Orbit:
            {
                var (s, c) = DeterministicMath.SinCos(m.OrbitPhase + m.AngularVelocity * t);
                return (m.OrbitCenterX + m.OrbitRadius * c, m.OrbitCenterY + m.OrbitRadius * s);
            }
            default:
                return (shape.CenterX, shape.CenterY);
        }
    }

    /// <summary>The pose of shape <paramref name="index"/> at frame t in image pixels.</summary>
    public static ShapePose Pose(ClipSpec spec, int index, double t)
    {
        var shape = spec.Shapes[index];
        var m = shape.Motion;
        var (wx, wy) = WorldCenter(spec, shape, t);
        var (ox, oy) = CameraOffset(spec, t);
        double scale = m.Kind is MotionKind.Grow or MotionKind.Shrink ? 1 + m.ScaleRate * t : 1;
        double angle = shape.Angle + (m.Kind == MotionKind.Rotate ? m.AngularVelocity * t : 0);
        var (sin, cos) = DeterministicMath.SinCos(angle);
        double h = spec.Height;
        return new ShapePose((wx - ox) * h, (wy - oy) * h, shape.Radius * scale * h, angle, cos, sin, scale);
    }

    /// <summary>
    /// Reflects x into [lo, hi] as a ball bouncing between two walls would (a triangle wave of period 2 (hi - lo));
    /// the midpoint when the walls cross.
    /// </summary>
    public static double Fold(double x, double lo, double hi)
    {
        double span = hi - lo;
        if (!(span > 0)) return (lo + hi) / 2;
        double m = x - lo;
        m -= 2 * span * Math.Floor(m / (2 * span));
        return lo + (m <= span ? m : 2 * span - m);
    }
}
