namespace FlowGuide.Training.World;

/// <summary>
/// The named colours of the motion world. The first <see cref="Palette.ShapeColorCount"/> are shape colours; black and
/// gray only appear as plain backgrounds (white is both).
/// </summary>
public enum ColorName
{
    Red,
    Green,
    Blue,
    Yellow,
    Purple,
    Orange,
    White,
    Cyan,
    Black,
    Gray,
}

/// <summary>A linear RGB colour with channels in [0, 1].</summary>
public readonly record struct Rgb(double R, double G, double B)
{
    /// <summary>Euclidean distance in RGB space (0 for equal colours, sqrt 3 for black to white).</summary>
    public double DistanceTo(Rgb other)
    {
        double dr = R - other.R, dg = G - other.G, db = B - other.B;
        return Math.Sqrt(dr * dr + dg * dg + db * db); // Math.Sqrt is correctly rounded by IEEE 754: deterministic
    }

    /// <summary>A neutral gray of the given level.</summary>
    public static Rgb Gray(double level) => new(level, level, level);
}

/// <summary>The exact RGB value and caption word of every <see cref="ColorName"/>.</summary>
public static class Palette
{
    /// <summary>Colours 0 .. ShapeColorCount-1 of <see cref="ColorName"/> are used for shapes.</summary>
    public const int ShapeColorCount = 8;

    /// <summary>The shape colours in enum order.</summary>
    public static IReadOnlyList<ColorName> ShapeColors { get; } =
        Enumerable.Range(0, ShapeColorCount).Select(i => (ColorName)i).ToArray();

    /// <summary>The colours a plain background may have.</summary>
    public static IReadOnlyList<ColorName> PlainBackgroundColors { get; } = new[] { ColorName.Black, ColorName.Gray, ColorName.White };

    /// <summary>
    /// Gray levels for the two tones of textured backgrounds (stripes, checks, gradients, noise): dark enough that every
    /// shape colour, even at its darkest shading, stands out from them.
    /// </summary>
    public static IReadOnlyList<double> TextureLevels { get; } = new[] { 0.06, 0.16, 0.28, 0.40 };

    /// <summary>
    /// The smallest RGB distance <see cref="MotionWorld.Sample"/> allows between a shape colour and a plain background
    /// colour (it rules out white on white and purple on gray, for example).
    /// </summary>
    public const double MinContrast = 0.45;

    /// <summary>The exact RGB value of a named colour.</summary>
    public static Rgb ToRgb(this ColorName color) => color switch
    {
        ColorName.Red => new Rgb(0.90, 0.10, 0.10),
        ColorName.Green => new Rgb(0.10, 0.75, 0.20),
        ColorName.Blue => new Rgb(0.15, 0.30, 0.95),
        ColorName.Yellow => new Rgb(0.95, 0.85, 0.10),
        ColorName.Purple => new Rgb(0.60, 0.20, 0.80),
        ColorName.Orange => new Rgb(1.00, 0.55, 0.05),
        ColorName.White => new Rgb(1.00, 1.00, 1.00),
        ColorName.Cyan => new Rgb(0.10, 0.85, 0.90),
        ColorName.Black => new Rgb(0.00, 0.00, 0.00),
        ColorName.Gray => new Rgb(0.50, 0.50, 0.50),
        _ => throw new ArgumentOutOfRangeException(nameof(color), $"Palette.ToRgb: unknown colour {(int)color}."),
    };

    /// <summary>The lower-case caption word of a colour ("red", "gray").</summary>
    public static string Word(this ColorName color) => color switch
    {
        ColorName.Red => "red",
        ColorName.Green => "green",
        ColorName.Blue => "blue",
        ColorName.Yellow => "yellow",
        ColorName.Purple => "purple",
        ColorName.Orange => "orange",
        ColorName.White => "white",
        ColorName.Cyan => "cyan",
        ColorName.Black => "black",
        ColorName.Gray => "gray",
        _ => throw new ArgumentOutOfRangeException(nameof(color), $"Palette.Word: unknown colour {(int)color}."),
    };

    /// <summary>True for the colours shapes may have (the first <see cref="ShapeColorCount"/>).</summary>
    public static bool IsShapeColor(this ColorName color) => (int)color >= 0 && (int)color < ShapeColorCount;
}
