using System.Text;
using FlowGuide.Training.World;

namespace FlowGuide.Cli.Eval;

/// <summary>
/// The shipped transfer set (<c>flowguide prompts --transfer</c>, prompts/transfer-world.txt): held-out motion-world
/// clips whose single shape clearly travels, each paired with a target prompt that keeps the motion words and changes
/// the shape, the colour and the background, plus one real video. Deterministic: the same count always gives the same
/// file. Only captions are computed (nothing is rendered); the evaluation renders the clips at the model's size.
/// </summary>
/// <remarks>
/// Sources: held-out clips in index order with one shape (no companions whose motion would mix in), no camera pan, the
/// fast speed, and a motion that moves the shape across the frame — the 8 straight-line directions, bounce and both
/// orbits (grow, shrink and spin barely move points and are left out). First every such motion class once, then one at
/// a time the first clip whose motion has the fewest sources so far. Target: the caption of the first test-split clip (a training-distribution caption, so every word
/// and combination is one the model was trained on) with one shape, no pan, the same motion class and speed, and a
/// different shape, colour and background pattern, not already used as a target.
/// </remarks>
public static class TransferPrompts
{
    /// <summary>The real video appended to every transfer set, relative to the file (looked up upwards).</summary>
    public const string RealSource = "../shared/data/video/cutie-example.mp4";

    /// <summary>
    /// Its target prompt: the man in the clip walks to the right (and towards the camera); the prompt keeps "moves right".
    /// Motion-world prompt adherence for a file source scores colour and shape only (its motion has no ground truth).
    /// </summary>
    public const string RealPrompt = "a large orange star slowly moves right across a striped background";

    /// <summary>The motion classes a source may have: the ones that carry the shape across the frame.</summary>
    public static IReadOnlyList<MotionClass> TravellingMotions { get; } =
        Enum.GetValues<MotionClass>().Where(m => m <= MotionClass.OrbitCounterClockwise).ToArray();

    /// <summary>Clips scanned at most per search before giving up.</summary>
    public const int MaxScan = 200_000;

    /// <summary>The file's text for <paramref name="count"/> world sources (plus the real video).</summary>
    public static string Text(int count)
    {
        var sb = new StringBuilder();
        sb.Append($"# flowguide prompts --transfer --count {count}\n");
        sb.Append("# motion transfer jobs for 'flowguide eval --transfer': SOURCE | TARGET PROMPT. World sources are held-out clips\n");
        sb.Append("# (world:SPLIT:INDEX, rendered at the model's frames and size) whose one shape travels fast; each target keeps the\n");
        sb.Append("# motion words and changes shape, colour and background. Paths are looked up from this folder upwards.\n");
        foreach (var (index, source, target) in Select(count))
        {
            sb.Append("# source: ").Append(source).Append('\n');
            sb.Append(TransferJobs.WorldReference(WorldSplit.HeldOut, index)).Append(" | ").Append(target).Append('\n');
        }
        sb.Append("# source: a real 640x480 clip (a man walking right towards the camera), 117 frames at 25 fps\n");
        sb.Append(RealSource).Append(" | ").Append(RealPrompt).Append('\n');
        return sb.ToString();
    }

    /// <summary>The world jobs: held-out clip index, its caption, the target prompt.</summary>
    public static List<(long Index, string SourceCaption, string Target)> Select(int count)
    {
        if (count < TravellingMotions.Count)
            throw new ArgumentException($"TransferPrompts: {count} sources cannot cover the {TravellingMotions.Count} travelling motions; ask for at least {TravellingMotions.Count}.");

        // 1. sources: every travelling motion once, in index order (scanning at least 4 count eligible clips to choose the rest from)
        var chosen = new List<(long Index, ClipSpec Spec)>();
        var missing = new HashSet<MotionClass>(TravellingMotions);
        var candidates = new List<(long Index, ClipSpec Spec)>();
        for (long i = 0; i < MaxScan && (missing.Count > 0 || candidates.Count < 4 * count); i++)
        {
            var spec = MotionWorld.Sample(i, WorldSplit.HeldOut);
            if (!Eligible(spec)) continue;
            candidates.Add((i, spec));
            if (missing.Remove(CaptionGrammar.ClassOf(spec.Shapes[0]))) chosen.Add((i, spec));
        }
        if (missing.Count > 0)
            throw new InvalidOperationException($"TransferPrompts: no eligible held-out clip does {missing.First()} within {MaxScan} clips.");
        // the rest one at a time: the first clip whose motion has the fewest sources so far (keeps the motions balanced)
        while (chosen.Count < count)
        {
            var perMotion = chosen.GroupBy(x => CaptionGrammar.ClassOf(x.Spec.Shapes[0])).ToDictionary(g => g.Key, g => g.Count());
            var rest = candidates.Where(c => !chosen.Any(x => x.Index == c.Index)).ToList();
            if (rest.Count == 0) break;
            int fewest = rest.Min(c => perMotion.GetValueOrDefault(CaptionGrammar.ClassOf(c.Spec.Shapes[0])));
            chosen.Add(rest.First(c => perMotion.GetValueOrDefault(CaptionGrammar.ClassOf(c.Spec.Shapes[0])) == fewest));
        }
        if (chosen.Count < count) throw new InvalidOperationException($"TransferPrompts: only {chosen.Count} eligible held-out clips within {MaxScan}.");
        chosen.Sort((a, b) => a.Index.CompareTo(b.Index));

        // 2. a target per source
        var used = new HashSet<string>(StringComparer.Ordinal);
        return chosen.Select(c => (c.Index, CaptionGrammar.Describe(c.Spec), Target(c.Spec, used))).ToList();
    }

    /// <summary>One shape, no pan, fast, travelling.</summary>
    internal static bool Eligible(ClipSpec spec) =>
        spec.Shapes.Count == 1 && spec.Pan is null && spec.Shapes[0].Motion.Speed == Speed.Fast
        && TravellingMotions.Contains(CaptionGrammar.ClassOf(spec.Shapes[0]));

    private static string Target(ClipSpec source, HashSet<string> used)
    {
        var s = source.Shapes[0];
        var motion = CaptionGrammar.ClassOf(s);
        for (long j = 0; j < MaxScan; j++)
        {
            var spec = MotionWorld.Sample(j, WorldSplit.Test);
            if (!Eligible(spec)) continue;
            var t = spec.Shapes[0];
            if (CaptionGrammar.ClassOf(t) != motion || t.Kind == s.Kind || t.Color == s.Color || spec.Background.Kind == source.Background.Kind) continue;
            string caption = CaptionGrammar.Describe(spec);
            if (used.Add(caption)) return caption;
        }
        throw new InvalidOperationException($"TransferPrompts: no test clip within {MaxScan} gives a target for '{CaptionGrammar.Describe(source)}'.");
    }
}
