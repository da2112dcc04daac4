using System.Text;
using FlowGuide.Cli.Eval;
using FlowGuide.Training.World;

namespace FlowGuide.Cli;

/// <summary>
/// <c>flowguide prompts</c>: a deterministic motion-world prompt file. Walks the clips of a split in index order
/// (captions only; nothing is rendered) and first takes every clip whose subject adds something not yet covered —
/// a shape, a colour, a motion (camera pans count as one), a background, or for the held-out split a held-out
/// (shape, colour, motion) triple — then fills up to the count with the following clips, skipping repeated captions.
/// </summary>
public sealed class PromptsCommand : Command
{
    /// <summary>Clips scanned at most before giving up on coverage.</summary>
    public const int MaxScan = 200_000;

    public override string Name => "prompts";
    public override string Summary => "write a motion-world prompt file covering every shape, colour and motion";
    public override string Usage =>
        "flowguide prompts --split heldout --count 64 --out prompts/motion-world.txt\n\n" +
        "  --split NAME   heldout (default; combinations never seen in training), test, validation or train\n" +
        "  --count N      prompts to write (default 64); at least what full coverage needs\n" +
        "  --out FILE     output file (default: print to stdout)\n\n" +
        "The same options always give the same file. Held-out clips never have a camera pan or a still subject;\n" +
        "use --split test for prompts with those.\n\n" +
        "flowguide prompts --transfer [--count 16] --out prompts/transfer-world.txt\n" +
        "  writes a transfer file for 'flowguide eval --transfer' instead: COUNT held-out clips whose one shape travels\n" +
        "  fast (every straight-line direction, bounce and both orbits), each with a target prompt that keeps the motion\n" +
        "  words and changes shape, colour and background, plus " + TransferPrompts.RealSource + ".";

    public override IReadOnlySet<string> Flags => new HashSet<string> { "transfer" };

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        bool transfer = args.Flag("transfer");
        string splitName = args.String("split", "heldout").ToLowerInvariant();
        int count = args.Int("count", transfer ? 16 : 64);
        string? outPath = args.String("out");
        args.EnsureAllUsed(0);
        if (transfer)
        {
            if (args.String("split") is not null) throw new UsageException("--split does not apply to --transfer (sources are held-out clips)");
            if (count < TransferPrompts.TravellingMotions.Count)
                throw new UsageException($"--count must be at least {TransferPrompts.TravellingMotions.Count} with --transfer (one source per travelling motion), got {count}");
            return Write(TransferPrompts.Text(count), outPath, o => $"wrote {count} world transfer jobs and 1 real video to {o}", output);
        }
        var split = TransferJobs.ParseSplit(splitName)
            ?? throw new UsageException($"--split must be heldout, test, validation or train, got '{splitName}'");
        if (count < 1) throw new UsageException($"--count must be at least 1, got {count}");
        var prompts = Select(split, count, out string coverage);
        var sb = new StringBuilder();
        sb.Append($"# flowguide prompts --split {splitName} --count {count}\n");
        sb.Append($"# motion-world captions of the {split} split, {coverage}\n");
        foreach (var p in prompts) sb.Append(p).Append('\n');
        return Write(sb.ToString(), outPath, o => $"wrote {prompts.Count} prompts to {o} ({coverage})", output);
    }

    private static int Write(string text, string? outPath, Func<string, string> message, TextWriter output)
    {
        if (outPath is null) output.Write(text);
        else
        {
            EvalResults.WriteText(outPath, text);
            output.WriteLine(message(outPath));
        }
        return 0;
    }

    /// <summary>The prompts (see the class summary); <paramref name="coverage"/> says what they cover.</summary>
    internal static List<string> Select(WorldSplit split, int count, out string coverage)
    {
        var wanted = new HashSet<string>();
        foreach (var k in Enum.GetValues<ShapeKind>()) wanted.Add("shape " + k);
        foreach (var c in Palette.ShapeColors) wanted.Add("colour " + c);
        foreach (var b in Enum.GetValues<BackgroundKind>()) wanted.Add("background " + b);
        if (split == WorldSplit.HeldOut)
            foreach (var (s, c, m) in MotionWorld.HeldOutCombos) { wanted.Add($"held-out {s} {c} {m}"); wanted.Add("motion " + m); }
        else
        {
            foreach (var m in Enum.GetValues<MotionClass>()) wanted.Add("motion " + m);
            wanted.Add("motion pan");
        }
        int needed = wanted.Count;

        // 1. clips that add coverage, in index order
        var chosen = new List<(long Index, string Caption)>();
        var captions = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < MaxScan && wanted.Count > 0 && chosen.Count < count; i++)
        {
            var spec = MotionWorld.Sample(i, split);
            string caption = CaptionGrammar.Describe(spec);
            var items = Items(spec, split);
            if (!items.Any(wanted.Contains) || !captions.Add(caption)) continue;
            wanted.ExceptWith(items);
            chosen.Add((i, caption));
        }
        if (wanted.Count > 0)
            throw new InvalidOperationException($"prompts: {count} prompts of the {split} split cannot cover everything ({wanted.Count} of {needed} items left, e.g. {wanted.First()}); ask for more with --count.");

        // 2. fill with the following clips
        var taken = chosen.Select(c => c.Index).ToHashSet();
        for (long i = 0; i < MaxScan && chosen.Count < count; i++)
        {
            if (taken.Contains(i)) continue;
            string caption = CaptionGrammar.Describe(MotionWorld.Sample(i, split));
            if (captions.Add(caption)) chosen.Add((i, caption));
        }
        chosen.Sort((a, b) => a.Index.CompareTo(b.Index));
        coverage = $"covering all {Enum.GetValues<ShapeKind>().Length} shapes, {Palette.ShapeColorCount} colours, "
                   + (split == WorldSplit.HeldOut ? $"{MotionWorld.MovingClassCount} motions, {MotionWorld.HeldOutCombos.Count} held-out triples"
                                                  : $"{Enum.GetValues<MotionClass>().Length} motions and camera pans")
                   + $" and {Enum.GetValues<BackgroundKind>().Length} backgrounds";
        return chosen.Select(c => c.Caption).ToList();
    }

    private static string[] Items(ClipSpec spec, WorldSplit split)
    {
        var s = spec.Shapes[spec.Subject];
        var motion = CaptionGrammar.ClassOf(s);
        var items = new List<string>
        {
            "shape " + s.Kind, "colour " + s.Color, "background " + spec.Background.Kind,
            spec.Pan is null ? "motion " + motion : "motion pan",
        };
        if (split == WorldSplit.HeldOut) items.Add($"held-out {s.Kind} {s.Color} {motion}");
        return items.ToArray();
    }
}
