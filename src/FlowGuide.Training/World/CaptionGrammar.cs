using System.Text;

namespace FlowGuide.Training.World;

/// <summary>
/// What a shape visibly does, as a caption names it: the unit of the held-out split (a (shape, colour, motion class)
/// triple) and of prompt-following metrics.
/// </summary>
public enum MotionClass
{
    MoveLeft, MoveRight, MoveUp, MoveDown, MoveUpLeft, MoveUpRight, MoveDownLeft, MoveDownRight,
    Bounce, OrbitClockwise, OrbitCounterClockwise, Grow, Shrink, SpinClockwise, SpinCounterClockwise,
    /// <summary>Not moving in the world (shapes under a camera pan, or companions standing by).</summary>
    Still,
}

/// <summary>
/// The caption grammar. A clip is described by its subject shape:
/// <c>[a|an] [small|large] COLOUR SHAPE (slowly|quickly) VERB-PHRASE [PREP COMPANION (and COMPANION)*] PREP BACKGROUND</c>,
/// e.g. "a red circle slowly moves left past a blue square across a striped background"; a panning camera gives
/// "the camera quickly pans right over a yellow triangle on a plain black background". Captions are lower case, words
/// separated by single spaces, no punctuation; <see cref="Vocabulary"/> lists every word the grammar can produce.
/// </summary>
public static class CaptionGrammar
{
    private static readonly string[] Articles = { "a", "an", "the" };
    private static readonly string[] Adverbs = { "slowly", "quickly" };
    private static readonly string[] Fixed = { "camera", "pans", "over", "and", "background", "plain" };

    /// <summary>Verb phrase per <see cref="MotionClass"/> (index = enum value).</summary>
    private static readonly string[] VerbPhrases =
    {
        "moves left", "moves right", "moves up", "moves down",
        "moves up and left", "moves up and right", "moves down and left", "moves down and right",
        "bounces around", "orbits clockwise", "orbits counterclockwise", "grows", "shrinks",
        "spins clockwise", "spins counterclockwise", "stays still",
    };

    /// <summary>Words after "pans" per <see cref="Direction"/> (index = enum value).</summary>
    private static readonly string[] DirectionPhrases =
        { "left", "right", "up", "down", "up and left", "up and right", "down and left", "down and right" };

    /// <summary>Adjective before "background" per <see cref="BackgroundKind"/> other than plain.</summary>
    private static readonly string[] BackgroundWords = { "", "striped", "checkered", "gradient", "textured" };

    private static readonly string[] CompanionPrepositions = { "past", "with", "beside" };
    private static readonly string[] BackgroundPrepositions = { "across", "over", "on" };

    /// <summary>The caption word of a shape.</summary>
    public static string Word(this ShapeKind kind) => kind switch
    {
        ShapeKind.Circle => "circle",
        ShapeKind.Square => "square",
        ShapeKind.Triangle => "triangle",
        ShapeKind.Star => "star",
        ShapeKind.Diamond => "diamond",
        ShapeKind.Ring => "ring",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), $"CaptionGrammar.Word: unknown shape {(int)kind}."),
    };

    /// <summary>The words for a direction ("left", "up and right").</summary>
    public static string Words(this Direction direction) => DirectionPhrases[(int)direction];

    /// <summary>
    /// The nearest of the eight directions to a velocity (x right, y down): axis-aligned within 22.5 degrees, else
    /// diagonal. Throws for a zero vector.
    /// </summary>
    public static Direction DirectionOf(double vx, double vy)
    {
        const double tan22_5 = 0.41421356237309503; // sqrt(2) - 1
        double ax = Math.Abs(vx), ay = Math.Abs(vy);
        if (ax == 0 && ay == 0) throw new ArgumentException("CaptionGrammar.DirectionOf: a zero velocity has no direction.");
        if (ay <= ax * tan22_5) return vx < 0 ? Direction.Left : Direction.Right;
        if (ax <= ay * tan22_5) return vy < 0 ? Direction.Up : Direction.Down;
        return vy < 0 ? (vx < 0 ? Direction.UpLeft : Direction.UpRight) : (vx < 0 ? Direction.DownLeft : Direction.DownRight);
    }

    /// <summary>What a shape visibly does, read from its motion's numbers (not from its speed label).</summary>
    public static MotionClass ClassOf(ShapeSpec shape)
    {
        var m = shape.Motion;
        return m.Kind switch
        {
            MotionKind.Linear when m.VelocityX != 0 || m.VelocityY != 0 => (MotionClass)(int)DirectionOf(m.VelocityX, m.VelocityY),
            MotionKind.Bounce => MotionClass.Bounce,
            MotionKind.Orbit when m.AngularVelocity != 0 =>
                m.AngularVelocity > 0 ? MotionClass.OrbitClockwise : MotionClass.OrbitCounterClockwise,
            MotionKind.Grow when m.ScaleRate != 0 => m.ScaleRate > 0 ? MotionClass.Grow : MotionClass.Shrink,
            MotionKind.Shrink when m.ScaleRate != 0 => m.ScaleRate > 0 ? MotionClass.Grow : MotionClass.Shrink,
            MotionKind.Rotate when m.AngularVelocity != 0 =>
                m.AngularVelocity > 0 ? MotionClass.SpinClockwise : MotionClass.SpinCounterClockwise,
            _ => MotionClass.Still,
        };
    }

    /// <summary>The verb phrase of a motion class ("moves up and left", "orbits clockwise").</summary>
    public static string VerbPhrase(this MotionClass motion) => VerbPhrases[(int)motion];

    /// <summary>The caption of a clip (see the class summary for the grammar).</summary>
    public static string Describe(ClipSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Shapes.Count == 0 || spec.Subject < 0 || spec.Subject >= spec.Shapes.Count)
            throw new ArgumentException($"CaptionGrammar.Describe: subject {spec.Subject} is not one of the clip's {spec.Shapes.Count} shapes.");
        var subject = spec.Shapes[spec.Subject];
        var others = spec.Shapes.Where((_, i) => i != spec.Subject).ToList();
        var sb = new StringBuilder();
        if (spec.Pan is { } pan)
        {
            sb.Append("the camera ").Append(Adverbs[(int)pan.Speed]).Append(" pans ")
              .Append(DirectionOf(pan.VelocityX, pan.VelocityY).Words()).Append(" over ");
            AppendNounPhrase(sb, subject);
            foreach (var other in others) AppendNounPhrase(sb.Append(" and "), other);
            AppendBackground(sb.Append(" on "), spec.Background);
            return sb.ToString();
        }
        var motion = ClassOf(subject);
        AppendNounPhrase(sb, subject);
        if (motion != MotionClass.Still) sb.Append(' ').Append(Adverbs[(int)subject.Motion.Speed]);
        sb.Append(' ').Append(motion.VerbPhrase());
        if (others.Count > 0)
        {
            string prep = motion <= MotionClass.MoveDownRight ? "past" : motion == MotionClass.Bounce ? "with" : "beside";
            sb.Append(' ').Append(prep).Append(' ');
            for (int i = 0; i < others.Count; i++) AppendNounPhrase(i == 0 ? sb : sb.Append(" and "), others[i]);
        }
        string bgPrep = motion switch
        {
            <= MotionClass.MoveDownRight => "across",
            MotionClass.Bounce or MotionClass.Grow or MotionClass.Shrink or MotionClass.Still => "on",
            _ => "over",
        };
        AppendBackground(sb.Append(' ').Append(bgPrep).Append(' '), spec.Background);
        return sb.ToString();
    }

    private static void AppendNounPhrase(StringBuilder sb, ShapeSpec shape)
    {
        string first = shape.Size switch
        {
            SizeClass.Small => "small",
            SizeClass.Large => "large",
            _ => shape.Color.Word(),
        };
        sb.Append(ArticleFor(first)).Append(' ');
        if (shape.Size != SizeClass.Medium) sb.Append(first).Append(' ');
        sb.Append(shape.Color.Word()).Append(' ').Append(shape.Kind.Word());
    }

    private static void AppendBackground(StringBuilder sb, BackgroundSpec bg)
    {
        if (bg.Kind == BackgroundKind.Plain) sb.Append("a plain ").Append(bg.Color.Word());
        else sb.Append("a ").Append(BackgroundWords[(int)bg.Kind]);
        sb.Append(" background");
    }

    /// <summary>"an" before a word starting with a vowel, else "a".</summary>
    internal static string ArticleFor(string word) => "aeiou".Contains(word[0]) ? "an" : "a";

    /// <summary>Splits a caption or prompt into lower-case words on white space.</summary>
    public static string[] Tokenize(string text) =>
        text.ToLowerInvariant().Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>
    /// Every word the grammar can produce, sorted ordinally: a text encoder whose vocabulary is this list covers every
    /// caption exactly.
    /// </summary>
    public static IReadOnlyList<string> Vocabulary { get; } = BuildVocabulary();

    private static string[] BuildVocabulary()
    {
        var fragments = Articles.Concat(Adverbs).Concat(Fixed).Concat(VerbPhrases).Concat(DirectionPhrases)
            .Concat(BackgroundWords).Concat(CompanionPrepositions).Concat(BackgroundPrepositions)
            .Concat(new[] { "small", "large" })
            .Concat(Palette.ShapeColors.Concat(Palette.PlainBackgroundColors).Select(c => c.Word()))
            .Concat(Enum.GetValues<ShapeKind>().Select(k => k.Word()));
        return fragments.SelectMany(Tokenize).Distinct().OrderBy(w => w, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Writes <see cref="Vocabulary"/> one word per line (UTF-8, "\n"), through a temporary file renamed into place.</summary>
    public static void WriteVocabulary(string path)
    {
        string full = Path.GetFullPath(path);
        string tmp = full + ".tmp";
        try
        {
            File.WriteAllText(tmp, string.Join("\n", Vocabulary) + "\n", new UTF8Encoding(false));
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
    }
}
