using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlowGuide.Training.World;

/// <summary>The silhouettes the world draws. Each is defined in a unit frame scaled by the shape's radius.</summary>
public enum ShapeKind { Circle, Square, Triangle, Star, Diamond, Ring }

/// <summary>How a shape moves. The numbers live in <see cref="MotionSpec"/>; the kind selects which of them apply.</summary>
public enum MotionKind
{
    /// <summary>Does not move (in world coordinates: a camera pan still moves it on screen).</summary>
    Still,
    /// <summary>Constant velocity <see cref="MotionSpec.VelocityX"/>, <see cref="MotionSpec.VelocityY"/>.</summary>
    Linear,
    /// <summary>Constant velocity, reflected off the frame's walls so that the shape's bounding circle stays inside.</summary>
    Bounce,
    /// <summary>Circular orbit of the centre; positive angular velocity is clockwise on screen.</summary>
    Orbit,
    /// <summary>Scale 1 + rate * t about the centre, rate &gt; 0.</summary>
    Grow,
    /// <summary>Scale 1 + rate * t about the centre, rate &lt; 0.</summary>
    Shrink,
    /// <summary>Rotation about the centre; positive angular velocity is clockwise on screen.</summary>
    Rotate,
}

/// <summary>The eight screen directions (up is towards row 0).</summary>
public enum Direction { Left, Right, Up, Down, UpLeft, UpRight, DownLeft, DownRight }

/// <summary>A speed label: it picks the magnitude when sampling and the adverb in the caption.</summary>
public enum Speed { Slow, Fast }

/// <summary>Size labels (radius 0.075, 0.105, 0.14 of the frame height); medium is not named in captions.</summary>
public enum SizeClass { Small, Medium, Large }

/// <summary>Background patterns; all but plain are defined over the infinite world plane so a camera can pan over them.</summary>
public enum BackgroundKind { Plain, Striped, Checkered, Gradient, Noise }

/// <summary>
/// The motion of one shape, in world units (1 unit = the frame height) and frames. Only the fields that
/// <see cref="Kind"/> uses matter; the others stay zero.
/// </summary>
public sealed record MotionSpec
{
    public MotionKind Kind { get; init; }

    /// <summary>Speed label for the caption; the numbers below are what moves the shape.</summary>
    public Speed Speed { get; init; }

    /// <summary>Linear / Bounce: velocity in units per frame (x right, y down).</summary>
    public double VelocityX { get; init; }

    /// <summary>Linear / Bounce: velocity in units per frame (x right, y down).</summary>
    public double VelocityY { get; init; }

    /// <summary>Orbit: centre of the orbit in world units (the shape's own centre is ignored).</summary>
    public double OrbitCenterX { get; init; }

    public double OrbitCenterY { get; init; }

    public double OrbitRadius { get; init; }

    /// <summary>Orbit: angle of the shape on its orbit at frame 0, radians (0 = right of the centre).</summary>
    public double OrbitPhase { get; init; }

    /// <summary>Orbit / Rotate: radians per frame, positive = clockwise on screen.</summary>
    public double AngularVelocity { get; init; }

    /// <summary>Grow / Shrink: the scale at frame t is 1 + ScaleRate * t.</summary>
    public double ScaleRate { get; init; }

    /// <summary>A motionless shape.</summary>
    public static MotionSpec Still { get; } = new() { Kind = MotionKind.Still };
}

/// <summary>One shape of a clip: what it is, where it starts and how it moves.</summary>
public sealed record ShapeSpec
{
    public ShapeKind Kind { get; init; }

    /// <summary>One of the shape colours (<see cref="Palette.IsShapeColor"/>).</summary>
    public ColorName Color { get; init; }

    /// <summary>Label for the caption ("small", "large"); <see cref="Radius"/> is what is drawn.</summary>
    public SizeClass Size { get; init; } = SizeClass.Medium;

    /// <summary>Radius at scale 1 in world units (the unit silhouette is drawn at this radius; its extent is up to 1.1 radii).</summary>
    public double Radius { get; init; } = 0.105;

    /// <summary>Centre at frame 0 in world units (x in [0, width/height], y in [0, 1] is the first frame's view).</summary>
    public double CenterX { get; init; }

    public double CenterY { get; init; }

    /// <summary>Orientation at frame 0, radians, clockwise on screen.</summary>
    public double Angle { get; init; }

    public MotionSpec Motion { get; init; } = MotionSpec.Still;
}

/// <summary>
/// A background. Tones and the pattern's direction are explicit so that rendering needs no trigonometry; noise is
/// drawn from the clip's <see cref="ClipSpec.Seed"/>.
/// </summary>
public sealed record BackgroundSpec
{
    public BackgroundKind Kind { get; init; }

    /// <summary>Plain: the colour (also its caption word). Ignored by the other kinds.</summary>
    public ColorName Color { get; init; } = ColorName.Black;

    /// <summary>Textured kinds: the two tones (stripe A/B, check A/B, gradient ends, noise 0/1).</summary>
    public Rgb ToneA { get; init; }

    public Rgb ToneB { get; init; }

    /// <summary>
    /// World units: stripe period, check cell size, gradient length (tone A to tone B, then back: a mirrored ramp),
    /// noise lattice spacing.
    /// </summary>
    public double Period { get; init; } = 0.25;

    /// <summary>Striped / Gradient: unit vector across the stripes or along the ramp.</summary>
    public double DirectionX { get; init; } = 1;

    public double DirectionY { get; init; }

    /// <summary>A plain background of a named colour.</summary>
    public static BackgroundSpec Plain(ColorName color) => new() { Kind = BackgroundKind.Plain, Color = color };
}

/// <summary>
/// A camera moving at constant velocity over the world. The velocity is the camera's: when it pans right, everything
/// on screen (background and still shapes) moves left.
/// </summary>
public sealed record CameraPan
{
    /// <summary>Camera velocity in world units per frame (x right, y down).</summary>
    public double VelocityX { get; init; }

    public double VelocityY { get; init; }

    public Speed Speed { get; init; }
}

/// <summary>
/// Every parameter of one motion-world clip; <see cref="MotionWorld.Render"/> turns it into pixels, flow and masks.
/// Serialises to JSON (<see cref="ToJson"/>) and back without loss: doubles round-trip exactly.
/// </summary>
public sealed record ClipSpec
{
    /// <summary>The clip's seed: it picks the noise texture (and, through <see cref="MotionWorld.SplitOfSeed"/>, the split).</summary>
    public long Seed { get; init; }

    public int Frames { get; init; } = 17;

    public int Width { get; init; } = 64;

    public int Height { get; init; } = 64;

    public BackgroundSpec Background { get; init; } = BackgroundSpec.Plain(ColorName.Black);

    /// <summary>Null for a fixed camera.</summary>
    public CameraPan? Pan { get; init; }

    /// <summary>The shapes in draw order: later ones are nearer and hide earlier ones.</summary>
    public IReadOnlyList<ShapeSpec> Shapes { get; init; } = Array.Empty<ShapeSpec>();

    /// <summary>Index into <see cref="Shapes"/> of the shape the caption is about (named first).</summary>
    public int Subject { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first parameter that cannot be rendered.</summary>
    public void Validate()
    {
        void Fail(string what) => throw new ArgumentException($"ClipSpec (seed {Seed}): {what}.");
        if (Frames < 1) Fail($"Frames must be at least 1, got {Frames}");
        if (Width < 1 || Height < 1) Fail($"Width and Height must be positive, got {Width}x{Height}");
        if ((long)Frames * Width * Height > 1L << 28) Fail($"{Frames}x{Height}x{Width} is too large to render");
        if (Background is null) Fail("Background is null");
        if (Shapes is null || Shapes.Count == 0) Fail("needs at least one shape");
        if (Subject < 0 || Subject >= Shapes!.Count) Fail($"Subject {Subject} is not an index into {Shapes!.Count} shapes");
        var bg = Background!;
        if (bg.Kind != BackgroundKind.Plain && !(bg.Period > 0 && double.IsFinite(bg.Period)))
            Fail($"Background.Period must be positive and finite, got {bg.Period}");
        if ((bg.Kind == BackgroundKind.Striped || bg.Kind == BackgroundKind.Gradient) && bg.DirectionX == 0 && bg.DirectionY == 0)
            Fail($"Background {bg.Kind} needs a non-zero direction");
        if (Pan is { } pan && !(pan.VelocityX != 0 || pan.VelocityY != 0))
            Fail("Pan has zero velocity (use Pan = null for a fixed camera)");
        for (int i = 0; i < Shapes.Count; i++)
        {
            var s = Shapes[i];
            if (s is null) Fail($"Shapes[{i}] is null");
            if (!s!.Color.IsShapeColor()) Fail($"Shapes[{i}].Color {s.Color} is not a shape colour");
            if (!(s.Radius > 0 && double.IsFinite(s.Radius))) Fail($"Shapes[{i}].Radius must be positive, got {s.Radius}");
            var m = s.Motion;
            if (m is null) Fail($"Shapes[{i}].Motion is null");
            double endScale = 1 + m!.ScaleRate * Math.Max(0, Frames - 1);
            if ((m.Kind == MotionKind.Grow || m.Kind == MotionKind.Shrink) && !(endScale >= 0.05))
                Fail($"Shapes[{i}] shrinks to scale {endScale} by the last frame; it must stay at least 0.05");
            if (m.Kind == MotionKind.Linear && m.VelocityX == 0 && m.VelocityY == 0)
                Fail($"Shapes[{i}] moves linearly at zero velocity (use MotionKind.Still)");
            if (m.Kind == MotionKind.Orbit && !(m.OrbitRadius >= 0)) Fail($"Shapes[{i}].Motion.OrbitRadius must be >= 0, got {m.OrbitRadius}");
        }
    }

    /// <summary>Value equality including the shape list (a record alone compares the list by reference).</summary>
    public bool Equals(ClipSpec? other) =>
        other is not null && Seed == other.Seed && Frames == other.Frames && Width == other.Width && Height == other.Height
        && Equals(Background, other.Background) && Equals(Pan, other.Pan) && Subject == other.Subject
        && Shapes.SequenceEqual(other.Shapes);

    public override int GetHashCode() => HashCode.Combine(Seed, Frames, Width, Height, Background, Pan, Subject, Shapes.Count);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Compact JSON with enum names as strings.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Parses <see cref="ToJson"/> output; throws <see cref="ArgumentException"/> for malformed JSON.</summary>
    public static ClipSpec FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<ClipSpec>(json, JsonOptions)
                   ?? throw new ArgumentException("ClipSpec.FromJson: the JSON is null.");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"ClipSpec.FromJson: not a clip spec: {e.Message}", nameof(json), e);
        }
    }
}
