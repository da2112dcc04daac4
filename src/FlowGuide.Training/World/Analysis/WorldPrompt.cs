using FlowGuide.Training.World;

namespace FlowGuide.Training.World.Analysis;

/// <summary>A shape named in a prompt: its colour and silhouette.</summary>
public readonly record struct PromptShape(ColorName Color, ShapeKind Shape, SizeClass Size);

/// <summary>
/// A motion-world prompt read back with the caption grammar of <see cref="CaptionGrammar"/>: what the subject is, what it
/// is asked to do and over which background. The inverse of <see cref="CaptionGrammar.Describe"/> for the parts a
/// prompt-adherence check needs (the subject's colour, shape and motion, a camera pan, the background); companions are
/// kept for reference.
/// </summary>
/// <param name="Subject">The first shape named (the one the caption is about).</param>
/// <param name="Motion">What the subject does in the world; <see cref="MotionClass.Still"/> under a camera pan.</param>
/// <param name="Speed">The adverb (slowly/quickly), null for "stays still".</param>
/// <param name="Pan">The camera's direction when the prompt says "the camera pans ...", else null.</param>
/// <param name="Background">The background pattern ("textured" is <see cref="BackgroundKind.Noise"/>).</param>
/// <param name="BackgroundColor">The colour of a plain background, else null.</param>
/// <param name="Companions">Further shapes named after the subject.</param>
public sealed record WorldPrompt(
    PromptShape Subject, MotionClass Motion, Speed? Speed, Direction? Pan, BackgroundKind Background, ColorName? BackgroundColor,
    IReadOnlyList<PromptShape> Companions)
{
    /// <summary>
    /// The direction the subject should travel on screen: the verb's direction for "moves ...", the opposite of the
    /// camera's for a pan (the world slides the other way), null for every other motion.
    /// </summary>
    public Direction? ScreenDirection => Pan is { } pan ? Opposite(pan)
        : Motion <= MotionClass.MoveDownRight ? (Direction)(int)Motion : null;

    /// <summary>The direction pointing the other way.</summary>
    public static Direction Opposite(Direction d) => d switch
    {
        Direction.Left => Direction.Right,
        Direction.Right => Direction.Left,
        Direction.Up => Direction.Down,
        Direction.Down => Direction.Up,
        Direction.UpLeft => Direction.DownRight,
        Direction.UpRight => Direction.DownLeft,
        Direction.DownLeft => Direction.UpRight,
        _ => Direction.UpLeft,
    };

    /// <summary>Parses a prompt; throws <see cref="ArgumentException"/> naming the first word the grammar does not allow there.</summary>
    public static WorldPrompt Parse(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return TryParse(prompt, out var result, out var error) ? result! : throw new ArgumentException(error);
    }

    /// <summary>Parses a prompt; on failure returns false and a one-line reason.</summary>
    public static bool TryParse(string prompt, out WorldPrompt? result, out string? error)
    {
        result = null;
        error = null;
        if (prompt is null) { error = "WorldPrompt.Parse: the prompt is null."; return false; }
        var reader = new Reader(prompt, CaptionGrammar.Tokenize(prompt));
        try
        {
            result = reader.Prompt();
            return true;
        }
        catch (FormatException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>A cursor over the words of one prompt; every failure is a <see cref="FormatException"/> naming the word.</summary>
    private sealed class Reader(string text, string[] words)
    {
        private static readonly Dictionary<string, ColorName> Colors =
            Enum.GetValues<ColorName>().ToDictionary(c => c.Word(), c => c, StringComparer.Ordinal);

        private static readonly Dictionary<string, ShapeKind> Shapes =
            Enum.GetValues<ShapeKind>().ToDictionary(k => k.Word(), k => k, StringComparer.Ordinal);

        private static readonly Dictionary<string, BackgroundKind> Patterns = new(StringComparer.Ordinal)
        {
            ["striped"] = BackgroundKind.Striped,
            ["checkered"] = BackgroundKind.Checkered,
            ["gradient"] = BackgroundKind.Gradient,
            ["textured"] = BackgroundKind.Noise,
        };

        private int _i;

        private string? Peek => _i < words.Length ? words[_i] : null;

        private FormatException Fail(string expected) => new(
            $"WorldPrompt.Parse: '{text}' is not a motion-world prompt: expected {expected} at word {_i + 1} " +
            (Peek is null ? "(the prompt ended)." : $"('{Peek}')."));

        private string Next(string expected) => Peek is { } w ? words[_i++] : throw Fail(expected);

        private void Expect(string word)
        {
            if (Peek != word) throw Fail($"'{word}'");
            _i++;
        }

        private bool Accept(string word)
        {
            if (Peek != word) return false;
            _i++;
            return true;
        }

        public WorldPrompt Prompt()
        {
            if (words.Length == 0) throw Fail("a shape ('a red circle ...') or 'the camera'");
            if (Peek == "the" && _i + 1 < words.Length && words[_i + 1] == "camera")
            {
                // 1. the camera (slowly|quickly) pans DIRECTION over NP (and NP)* on BACKGROUND
                _i += 2;
                var speed = Adverb() ?? throw Fail("'slowly' or 'quickly'");
                Expect("pans");
                var pan = ReadDirection();
                Expect("over");
                var subject = NounPhrase();
                var companions = new List<PromptShape>();
                while (Accept("and")) companions.Add(NounPhrase());
                Expect("on");
                var (bg, bgColor) = BackgroundPhrase();
                End();
                return new WorldPrompt(subject, MotionClass.Still, speed, pan, bg, bgColor, companions);
            }

            // 2. NP [adverb] VERB-PHRASE [PREP NP (and NP)*] PREP BACKGROUND
            var shape = NounPhrase();
            var adverb = Adverb();
            var motion = VerbPhrase();
            if (motion == MotionClass.Still && adverb is not null) { _i--; throw Fail("a verb other than 'stays still' after an adverb"); }
            if (motion != MotionClass.Still && adverb is null) throw Fail("'slowly' or 'quickly' before the verb");
            var others = new List<PromptShape>();
            if (Peek is "past" or "with" or "beside")
            {
                _i++;
                others.Add(NounPhrase());
                while (Accept("and")) others.Add(NounPhrase());
            }
            if (Peek is not ("across" or "over" or "on")) throw Fail("'across', 'over' or 'on' before the background");
            _i++;
            var (kind, color) = BackgroundPhrase();
            End();
            return new WorldPrompt(shape, motion, adverb, null, kind, color, others);
        }

        private Training.World.Speed? Adverb() => Accept("slowly") ? Training.World.Speed.Slow : Accept("quickly") ? Training.World.Speed.Fast : null;

        private PromptShape NounPhrase()
        {
            if (!Accept("a") && !Accept("an")) throw Fail("'a' or 'an'");
            var size = Accept("small") ? SizeClass.Small : Accept("large") ? SizeClass.Large : SizeClass.Medium;
            string c = Next("a colour");
            if (!Colors.TryGetValue(c, out var color) || !color.IsShapeColor()) { _i--; throw Fail("a shape colour (" + string.Join(", ", Palette.ShapeColors.Select(x => x.Word())) + ")"); }
            string s = Next("a shape");
            if (!Shapes.TryGetValue(s, out var kind)) { _i--; throw Fail("a shape (" + string.Join(", ", Shapes.Keys) + ")"); }
            return new PromptShape(color, kind, size);
        }

        private MotionClass VerbPhrase()
        {
            string verb = Next("a verb");
            switch (verb)
            {
                case "moves": return (MotionClass)(int)ReadDirection();
                case "bounces": Expect("around"); return MotionClass.Bounce;
                case "grows": return MotionClass.Grow;
                case "shrinks": return MotionClass.Shrink;
                case "stays": Expect("still"); return MotionClass.Still;
                case "orbits" or "spins":
                    bool clockwise = Accept("clockwise");
                    if (!clockwise && !Accept("counterclockwise")) throw Fail("'clockwise' or 'counterclockwise'");
                    return verb == "orbits"
                        ? clockwise ? MotionClass.OrbitClockwise : MotionClass.OrbitCounterClockwise
                        : clockwise ? MotionClass.SpinClockwise : MotionClass.SpinCounterClockwise;
                default:
                    _i--;
                    throw Fail("a verb (moves, bounces, orbits, grows, shrinks, spins, stays)");
            }
        }

        /// <summary>left | right | up | down | (up|down) and (left|right).</summary>
        private Direction ReadDirection()
        {
            string w = Next("a direction");
            switch (w)
            {
                case "left": return Direction.Left;
                case "right": return Direction.Right;
                case "up" or "down":
                    bool up = w == "up";
                    if (Peek == "and" && _i + 1 < words.Length && words[_i + 1] is "left" or "right")
                    {
                        _i++;
                        bool left = Next("left or right") == "left";
                        return up ? (left ? Direction.UpLeft : Direction.UpRight) : (left ? Direction.DownLeft : Direction.DownRight);
                    }
                    return up ? Direction.Up : Direction.Down;
                default:
                    _i--;
                    throw Fail("a direction (left, right, up, down, up and left, ...)");
            }
        }

        private (BackgroundKind Kind, ColorName? Color) BackgroundPhrase()
        {
            Expect("a");
            (BackgroundKind, ColorName?) result;
            if (Accept("plain"))
            {
                string c = Next("a background colour");
                if (!Colors.TryGetValue(c, out var color)) { _i--; throw Fail("a colour after 'plain'"); }
                result = (BackgroundKind.Plain, color);
            }
            else
            {
                string p = Next("a background");
                if (!Patterns.TryGetValue(p, out var kind)) { _i--; throw Fail("'plain COLOUR', 'striped', 'checkered', 'gradient' or 'textured'"); }
                result = (kind, null);
            }
            Expect("background");
            return result;
        }

        private void End()
        {
            if (Peek is not null) throw Fail("the end of the prompt");
        }
    }
}
