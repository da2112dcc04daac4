using System.Globalization;
using FlowGuide.Sampling;
using FlowGuide.Cli.Eval;
using FlowGuide.Training;

namespace FlowGuide.Cli;

/// <summary>
/// <c>flowguide model probe</c>: which caption words a motion-world model conditions on — the flow-matching loss with
/// each clip's own caption against the loss with its colour, shape, motion or background reworded (<see cref="CaptionProbe"/>).
/// </summary>
public sealed class ModelProbeCommand : Command
{
    public override string Name => "model probe";
    public override string Summary => "measure which caption words (colour, shape, motion, background) a world model uses";
    public override string Usage =>
        "flowguide model probe [--model DIR] [--clips N] [--split validation|test|heldout|train] [--t 0.3,0.5,0.7,0.9,0.95] [--seed N]\n\n" +
        "For the first N motion-world clips of the split (default 48 validation clips), at each noise level t, compares the\n" +
        "model's flow-matching loss (its training loss, on its VAE's latents, one fixed noise draw per clip and t) with the\n" +
        "clip's own caption against the loss with one attribute reworded, everything else the same:\n" +
        "  colour      the shapes' colour words        shape       the shape words\n" +
        "  motion      told backwards in time: left/right, up/down, grows/shrinks, clockwise/counterclockwise swapped\n" +
        "              (clips that bounce or stay still are skipped)\n" +
        "  background  the background's kind, or a plain background's colour\n" +
        "  everything  the empty prompt (CFG's unconditional input)\n" +
        "and prints the mean loss increase with a 95% interval. An increase near zero means the model ignores those words.\n" +
        "The model is the shipped one unless --model names another world-vocabulary folder.";

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        var modelDir = args.String("model") ?? GenerateCommand.FindDefaultModel();
        int clips = args.Int("clips", 48);
        string splitName = args.String("split", "validation");
        var split = TransferJobs.ParseSplit(splitName)
            ?? throw new UsageException($"--split must be heldout, test, validation or train, got '{splitName}'");
        var ts = ParseTimesteps(args.String("t"));
        ulong seed = args.Seed("seed", 0);
        args.EnsureAllUsed(0);
        if (clips < 2) throw new UsageException($"--clips must be at least 2 (the interval needs two), got {clips}");
        var model = ShippedModel.Load(modelDir);
        var d = model.Defaults;
        var options = new CaptionProbeOptions
        {
            Clips = clips, Split = split, Seed = seed, Frames = d.Frames, Height = d.Height, Width = d.Width,
            Timesteps = ts ?? new CaptionProbeOptions().Timesteps,
        };
        var rows = CaptionProbe.Run(model.Transformer, model.TextEncoder, model.Vae, options);
        output.WriteLine($"caption probe of {model.Directory}: {clips} {TransferJobs.SplitName(split)} clips of {d.Frames}x{d.Height}x{d.Width}, seed {seed}");
        output.WriteLine("loss increase when the attribute is reworded (mean over clips, 95% interval); * where the interval excludes 0");
        output.WriteLine();
        output.WriteLine("| attribute | clips | " + string.Join(" | ", options.Timesteps.Select(t => "t = " + t.ToString("0.###", CultureInfo.InvariantCulture))) + " |");
        output.WriteLine("|---|---|" + string.Concat(options.Timesteps.Select(_ => "---|")));
        foreach (var group in rows.GroupBy(r => r.Attribute))
        {
            var cells = group.Select(r => double.IsNaN(r.Gap) ? "-" :
                $"{Signed(r.Gap)} [{Signed(r.GapLow)}, {Signed(r.GapHigh)}]{(r.GapLow > 0 || r.GapHigh < 0 ? "*" : "")}");
            output.WriteLine($"| {group.Key.ToString().ToLowerInvariant()} | {group.First().Clips} | {string.Join(" | ", cells)} |");
        }
        output.WriteLine();
        // the empty prompt applies to every clip, so its rows carry the true-caption loss over all of them
        output.WriteLine("loss with the true captions: " + string.Join(", ", rows.Where(r => r.Attribute == CaptionAttribute.Everything)
            .Select(r => string.Create(CultureInfo.InvariantCulture, $"t = {r.T:0.###}: {r.TrueLoss:F4}"))));
        return 0;
    }

    /// <summary>Four decimals with the value's own sign, also when it rounds to zero (-0.00001 prints as -0.0000).</summary>
    private static string Signed(double x) => (x < 0 ? "-" : "+") + Math.Abs(x).ToString("0.0000", CultureInfo.InvariantCulture);

    private static double[]? ParseTimesteps(string? text)
    {
        if (text is null) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ts = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out ts[i]) || !(ts[i] > 0 && ts[i] < 1))
                throw new UsageException($"--t must be a comma-separated list of noise levels in (0, 1), got '{text}'");
        if (ts.Length == 0) throw new UsageException("--t must list at least one noise level");
        return ts;
    }
}
