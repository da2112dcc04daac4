using FlowGuide.Tensors;

namespace FlowGuide.Training.World;

/// <summary>Which part of the world a clip belongs to; each split owns its own range of seeds.</summary>
public enum WorldSplit
{
    /// <summary>Training clips: never show a held-out (shape, colour, motion) triple.</summary>
    Train,
    /// <summary>Same distribution as Train, other seeds.</summary>
    Validation,
    /// <summary>Same distribution as Train, other seeds.</summary>
    Test,
    /// <summary>Clips whose subject is a held-out triple: prompts never seen in training.</summary>
    HeldOut,
}

/// <summary>
/// The synthetic motion world: draws random clip specs by seed and split (<see cref="Sample"/>) and renders them with
/// exact ground truth (<see cref="Render"/>).
/// </summary>
public static partial class MotionWorld
{
    /// <summary>
    /// The world's version: changes whenever a seed may render a different clip, so caches of encoded clips (the DiT
    /// trainer's latents) are keyed by it. 2: straight-moving subjects cross the frame centre (2026-11-22); 1: before.
    /// </summary>
    public const int Version = 2;

    /// <summary>Seeds per split: split s owns seeds [s * SplitSize, (s + 1) * SplitSize).</summary>
    public const long SplitSize = 1L << 40;

    /// <summary>The global seed of clip <paramref name="index"/> of a split.</summary>
    public static long SeedOf(long index, WorldSplit split)
    {
        if (index < 0 || index >= SplitSize)
            throw new ArgumentOutOfRangeException(nameof(index), $"MotionWorld.SeedOf: index {index} is outside [0, 2^40).");
        if (!Enum.IsDefined(split))
            throw new ArgumentOutOfRangeException(nameof(split), $"MotionWorld.SeedOf: unknown split {(int)split}.");
        return (long)split * SplitSize + index;
    }

    /// <summary>The split whose seed range holds <paramref name="seed"/>.</summary>
    public static WorldSplit SplitOfSeed(long seed)
    {
        if (seed < 0 || seed >= 4 * SplitSize)
            throw new ArgumentOutOfRangeException(nameof(seed), $"MotionWorld.SplitOfSeed: seed {seed} is outside [0, 2^42).");
        return (WorldSplit)(seed / SplitSize);
    }

    /// <summary>The motion classes a shape can be asked to perform (all but <see cref="MotionClass.Still"/>).</summary>
    public const int MovingClassCount = 15;

    /// <summary>
    /// Whether a (shape, colour, motion) triple is held out of training. Each (shape, colour) pair reserves exactly one
    /// motion class, (7 shape + 11 colour + 3) mod 15; 7 and 11 are prime to 15, so every (shape, motion) and
    /// (colour, motion) pair also stays in training with most partners. Still is never held out.
    /// </summary>
    public static bool IsHeldOut(ShapeKind shape, ColorName color, MotionClass motion) =>
        motion != MotionClass.Still && color.IsShapeColor()
        && (int)motion == (7 * (int)shape + 11 * (int)color + 3) % MovingClassCount;

    /// <summary>Every held-out triple (one per shape and shape colour: 48), in shape-major order.</summary>
    public static IReadOnlyList<(ShapeKind Shape, ColorName Color, MotionClass Motion)> HeldOutCombos { get; } =
        (from shape in Enum.GetValues<ShapeKind>()
         from color in Palette.ShapeColors
         select (shape, color, (MotionClass)((7 * (int)shape + 11 * (int)color + 3) % MovingClassCount))).ToArray();

    /// <summary>Whether a clip shows a held-out triple on any shape.</summary>
    public static bool ContainsHeldOut(ClipSpec spec) =>
        spec.Shapes.Any(s => IsHeldOut(s.Kind, s.Color, CaptionGrammar.ClassOf(s)));

    /// <summary>
    /// Draws the spec of clip <paramref name="index"/> of a split: 1-3 shapes of distinct colours (half the clips have
    /// one), a background (plain ones contrast with every shape), and either a subject that moves (one of 15 motion
    /// classes, slow or fast; 5% of these clips have a still subject instead) or, in 15% of clips, still shapes under a
    /// panning camera. Train, validation and test
    /// never show a held-out triple on any shape; held-out clips always have one as their subject. Motions are scaled
    /// to the clip length: a fast shape crosses 0.6 frame heights whatever the frame count.
    /// </summary>
    public static ClipSpec Sample(long index, WorldSplit split, int frames = 17, int width = 64, int height = 64)
    {
        if (frames < 1 || width < 1 || height < 1)
            throw new ArgumentException($"MotionWorld.Sample: need at least 1 frame of 1x1, got {frames} frames of {height}x{width}.");
        long seed = SeedOf(index, split);
        var rng = new Rng(seed);
        var draw = new SpecSampler(rng, frames, (double)width / height);
        int count = 1 + Pick(rng, 0.5, 0.3, 0.2);
        bool pan = split != WorldSplit.HeldOut && rng.UniformDouble() < 0.15;

        var shapes = new List<ShapeSpec>();
        var used = new HashSet<ColorName>();
        // 1. the subject
        ShapeKind kind;
        ColorName color;
        MotionClass motion;
        if (pan)
        {
            (kind, color, motion) = (RandomKind(rng), RandomColor(rng, used), MotionClass.Still);
        }
        else if (split == WorldSplit.HeldOut)
        {
            (kind, color, motion) = HeldOutCombos[rng.NextInt(HeldOutCombos.Count)];
        }
        else
        {
            bool still = rng.UniformDouble() < 0.05;
            do (kind, color, motion) = (RandomKind(rng), RandomColor(rng, used), still ? MotionClass.Still : (MotionClass)rng.NextInt(MovingClassCount));
            while (IsHeldOut(kind, color, motion));
        }
        used.Add(color);
        shapes.Add(draw.Shape(kind, color, motion, subject: true));

        // 2. companions: distinct colours, still half the time, never a held-out triple
        for (int i = 1; i < count; i++)
        {
            do
            {
                kind = RandomKind(rng);
                color = RandomColor(rng, used);
                motion = pan || rng.UniformDouble() < 0.5 ? MotionClass.Still : (MotionClass)rng.NextInt(MovingClassCount);
            }
            while (IsHeldOut(kind, color, motion));
            used.Add(color);
            shapes.Add(draw.Shape(kind, color, motion, subject: false));
        }

        // 3. depth: the subject goes to a random layer
        int subject = rng.NextInt(count);
        (shapes[0], shapes[subject]) = (shapes[subject], shapes[0]);

        // 4. background and camera
        var background = draw.Background(used);
        var camera = pan ? draw.Pan() : null;
        return new ClipSpec
        {
            Seed = seed,
            Frames = frames,
            Width = width,
            Height = height,
            Background = background,
            Pan = camera,
            Shapes = camera is null ? shapes : draw.PlaceForPan(shapes, camera),
            Subject = subject,
        };
    }

    /// <summary>Draws and renders clip <paramref name="index"/> of a split: <c>Render(Sample(index, split, ...))</c>.</summary>
    public static WorldClip Generate(long index, WorldSplit split, int frames = 17, int width = 64, int height = 64) =>
        Render(Sample(index, split, frames, width, height));

    /// <summary>Index i with probability weights[i] (the weights sum to 1).</summary>
    internal static int Pick(Rng rng, params double[] weights)
    {
        double u = rng.UniformDouble();
        for (int i = 0; i < weights.Length - 1; i++)
        {
            if (u < weights[i]) return i;
            u -= weights[i];
        }
        return weights.Length - 1;
    }

    private static readonly int ShapeKindCount = Enum.GetValues<ShapeKind>().Length;

    private static ShapeKind RandomKind(Rng rng) => (ShapeKind)rng.NextInt(ShapeKindCount);

    private static ColorName RandomColor(Rng rng, HashSet<ColorName> used)
    {
        var free = Palette.ShapeColors.Where(c => !used.Contains(c)).ToArray();
        return free[rng.NextInt(free.Length)];
    }
}
