using System.Globalization;
using FlowGuide.Cli.Eval;
using FlowGuide.Sampling;

namespace FlowGuide.Cli;

/// <summary>
/// <c>flowguide eval</c>: every method on every prompt and seed with identical initial noise, every metric, a results
/// table, a summary with intervals and paired differences, and the HTML report. Interrupted runs resume.
/// </summary>
public sealed class EvalCommand : Command
{
    public override string Name => "eval";
    public override string Summary => "run methods x prompts x seeds, score every video, write tables, summary and report";
    public override string Usage =>
        "flowguide eval --methods base,flowmo --prompts prompts/motion-world.txt --seeds 0..1 --out runs/eval [options]\n" +
        "flowguide eval --methods base,noised-source,flowmotion,flowmotion-no-da,flowmotion-no-vr\n" +
        "               --transfer prompts/transfer-world.txt --seeds 0..1 --out runs/eval-transfer [options]\n\n" +
        "  --methods A,B,...   methods to compare (registered: " + string.Join(", ", EvalMethods.All.Select(m => m.Name)) + ");\n" +
        "                      paired differences are taken against 'base' when it is listed\n" +
        "  --prompts FILE      one prompt per line; blank lines and lines starting with # are skipped\n" +
        "  --transfer FILE     instead of --prompts: motion transfer, one job 'SOURCE | TARGET PROMPT' per line; SOURCE is\n" +
        "                      world:SPLIT:INDEX (a motion-world clip) or a video path (relative: looked up from the file's\n" +
        "                      folder upwards); every method's row gets motion_fidelity against its job's source, and\n" +
        "                      paired differences are also taken against noised-source when it runs (prompts/transfer-world.txt)\n" +
        "  --seeds LIST        seeds, e.g. 0..3 (both ends included), 0,5,9 or 0..1,7 (default 0)\n" +
        "  --out DIR           output folder; an existing one is resumed (finished videos are kept)\n" +
        "  --limit N           only the first N prompts of the file\n" +
        "  --model DIR         model folder (default " + GenerateCommand.DefaultModelPath + ")\n" +
        "  --steps N, --cfg X, --shift X, --sampler euler|unipc, --frames N, --negative TEXT\n" +
        "                      sampling settings (model defaults otherwise; the same for every method)\n" +
        "  --no-report         skip report.html (write it later with 'flowguide report DIR')\n" +
        "\nMethod options:\n" + string.Concat(EvalMethods.All.Select(m => m.Usage)) +
        "\nEvery (prompt, seed) uses the seed itself as the generation seed, so all methods start from the same noise.\n" +
        "Writes DIR/videos/METHOD/*.gif, DIR/flows/METHOD/*.png, results.csv, results.json (one row per video: every\n" +
        "metric, seconds, peak tensor memory), summary.json, summary.md and report.html. See docs/eval.md.";

    public override IReadOnlySet<string> Flags => new HashSet<string>(EvalMethods.Flags.Append("no-report"));

    public override int Run(Args args, TextWriter output, CancellationToken cancel)
    {
        // 1. options
        var methodsArg = args.String("methods") ?? throw new UsageException("--methods is required (e.g. base,flowmo)");
        var promptsArg = args.String("prompts");
        var transferPath = args.String("transfer");
        if ((promptsArg is null) == (transferPath is null))
            throw new UsageException("give either --prompts FILE (text-to-video) or --transfer FILE (motion transfer: source | prompt per line)");
        var promptsPath = promptsArg ?? transferPath!;
        var outDir = args.String("out") ?? throw new UsageException("--out DIR is required");
        var seeds = ParseSeeds(args.String("seeds") ?? "0");
        int limit = args.Int("limit", int.MaxValue);
        var modelArg = args.String("model");
        int? steps = args.String("steps") is null ? null : args.Int("steps", 0);
        float? cfg = args.String("cfg") is null ? null : args.Float("cfg", 0);
        float? shift = args.String("shift") is null ? null : args.Float("shift", 0);
        int? frames = args.String("frames") is null ? null : args.Int("frames", 0);
        var samplerName = args.String("sampler");
        var negative = args.String("negative", "");
        bool noReport = args.Flag("no-report");
        var selected = ParseMethods(methodsArg);
        var claimed = selected.SelectMany(m => m.ReadsOptionsOf).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var setups = new List<(EvalMethod Method, EvalMethodSetup Setup)>();
        foreach (var m in EvalMethods.All)
        {
            var setup = m.Read(args);
            if (selected.Contains(m))
                setups.Add((m, setup));
            else if (setup.OptionsGiven && !selected.Any(x => x.FamilyName == m.FamilyName) && !claimed.Contains(m.Name))
                throw new UsageException($"options of method '{m.Name}' were given but --methods does not list it");
        }
        if (transferPath is null && selected.FirstOrDefault(m => m.NeedsSource) is { } needs)
            throw new UsageException($"method '{needs.Name}' transfers motion from a source video; give --transfer FILE (source | prompt per line) instead of --prompts");
        setups = selected.Select(m => setups.First(s => s.Method == m)).ToList();
        args.EnsureAllUsed(0);
        if (limit < 1) throw new UsageException($"--limit must be at least 1, got {limit}");
        if (steps is < 1) throw new UsageException($"--steps must be at least 1, got {steps}");
        if (shift is <= 0) throw new UsageException($"--shift must be positive, got {shift}");
        if (frames is < 1) throw new UsageException($"--frames must be positive, got {frames}");
        SamplerKind? sampler = samplerName is null ? null : samplerName.ToLowerInvariant() switch
        {
            "euler" => SamplerKind.Euler,
            "unipc" => SamplerKind.UniPc,
            _ => throw new UsageException($"--sampler must be euler or unipc, got '{samplerName}'"),
        };
        var transferJobs = transferPath is null ? null : TransferJobs.Read(transferPath).Take(limit).ToList();
        var prompts = transferJobs?.Select(j => j.Prompt).ToList() ?? ReadPrompts(promptsPath).Take(limit).ToList();

        foreach (var (_, setup) in setups) setup.Prepare?.Invoke(); // weights the methods share, before any work

        // 2. the model and the shared sampling settings
        var model = ShippedModel.Load(modelArg ?? GenerateCommand.FindDefaultModel());
        var d = model.Defaults;
        var options = d.ToOptions(0) with
        {
            NegativePrompt = negative,
            Steps = steps ?? d.Steps,
            GuidanceScale = cfg ?? d.GuidanceScale,
            Shift = shift ?? d.Shift,
            Sampler = sampler ?? d.Sampler,
            Frames = frames ?? d.Frames,
        };
        model.Pipeline.LatentShape(options); // frame count and size against the VAE, before any work
        for (int i = 0; i < prompts.Count; i++)
        {
            try { model.TextEncoder.Tokenize(prompts[i]); }
            catch (ArgumentException e) { throw new ArgumentException($"prompt {i + 1} of '{promptsPath}': {e.Message}", e); }
        }
        model.TextEncoder.Tokenize(negative);

        // 3. transfer sources at the model's frames and size, each read once and encoded once
        List<TransferSource>? sources = null;
        if (transferJobs is not null)
        {
            var conformed = transferJobs.Select(j => (Job: j, Source: Conform(j, transferPath!, options))).ToList();
            sources = conformed.Select(c => TransferJobs.Encode(c.Job, c.Source.Video, c.Source.Caption, c.Source.Warnings, model.Vae)).ToList();
            foreach (var warning in sources.SelectMany(x => x.Warnings)) Console.Error.WriteLine($"flowguide eval: warning: {warning}");
        }

        var plan = new EvalPlan(Path.GetFullPath(outDir), prompts, seeds, setups, options, d.Fps, !noReport, sources);
        return new EvalRunner(model, plan, output).Run(cancel);
    }

    /// <summary>A transfer job's source conformed to the run's size; errors name the file and line.</summary>
    private static (FlowGuide.Tensors.Tensor Video, FlowGuide.Training.World.Analysis.WorldPrompt? Caption, List<string> Warnings) Conform(
        TransferJob job, string file, GenerationOptions options)
    {
        try { return TransferJobs.Conform(job, options.Frames, options.Height, options.Width); }
        catch (Exception e) when (e is IOException or ArgumentException)
        {
            throw new InvalidDataException($"transfer file '{file}' line {job.Line}: {e.Message}", e);
        }
    }

    /// <summary>"0..3", "0,5,9", "0..1,7": both ends of a range included; duplicates and more than 100000 seeds rejected.</summary>
    internal static IReadOnlyList<ulong> ParseSeeds(string text)
    {
        var seeds = new List<ulong>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            int dots = part.IndexOf("..", StringComparison.Ordinal);
            if (dots >= 0)
            {
                if (!ulong.TryParse(part[..dots], NumberStyles.None, CultureInfo.InvariantCulture, out var a)
                    || !ulong.TryParse(part[(dots + 2)..], NumberStyles.None, CultureInfo.InvariantCulture, out var b) || b < a)
                    throw new UsageException($"--seeds: '{part}' is not a range A..B of non-negative integers with A <= B");
                if (b - a >= 100_000) throw new UsageException($"--seeds: '{part}' holds more than 100000 seeds");
                for (ulong s = a; ; s++) { seeds.Add(s); if (s == b) break; }
            }
            else if (ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var s))
                seeds.Add(s);
            else
                throw new UsageException($"--seeds: '{part}' is not a non-negative integer or a range A..B");
        }
        if (seeds.Count > 100_000) throw new UsageException("--seeds lists more than 100000 seeds");
        var dup = seeds.GroupBy(s => s).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new UsageException($"--seeds lists seed {dup.Key} twice");
        return seeds;
    }

    private static List<EvalMethod> ParseMethods(string text)
    {
        var list = new List<EvalMethod>();
        foreach (var name in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var m = EvalMethods.Find(name)
                    ?? throw new UsageException($"--methods: unknown method '{name}' (known: {string.Join(", ", EvalMethods.All.Select(x => x.Name))})");
            if (list.Contains(m)) throw new UsageException($"--methods lists '{m.Name}' twice");
            list.Add(m);
        }
        if (list.Count == 0) throw new UsageException("--methods is empty");
        return list;
    }

    /// <summary>The prompts of a prompt file: trimmed lines, skipping blank ones and # comments; duplicates rejected.</summary>
    internal static List<string> ReadPrompts(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"prompt file '{path}' does not exist.", path);
        var prompts = new List<string>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            if (seen.TryGetValue(line, out int first))
                throw new InvalidDataException($"prompt file '{path}': line {lineNo} repeats the prompt of line {first}; each prompt must appear once.");
            seen[line] = lineNo;
            prompts.Add(line);
        }
        if (prompts.Count == 0) throw new InvalidDataException($"prompt file '{path}' holds no prompts (blank lines and # comments are skipped).");
        return prompts;
    }
}
