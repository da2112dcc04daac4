using FlowGuide.Models.Video;
using System.Globalization;
using System.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Nn;
using FlowGuide.Tensors;
using FlowGuide.Training.World;

namespace FlowGuide.Training.Experiments;

/// <summary>The training objectives the FlowLoss experiment compares.</summary>
public enum FlowLossVariant
{
    /// <summary>Flow matching alone (the baseline, "reconstruction only").</summary>
    Reconstruction,
    /// <summary>Flow matching plus the hard-gated flow term, once per psi.</summary>
    Gated,
    /// <summary>The weighted average emphasising small sigma (w_ss).</summary>
    SmallSigma,
    /// <summary>The weighted average emphasising large sigma (w_ls).</summary>
    LargeSigma,
}

/// <summary>One training run of the experiment.</summary>
/// <param name="Name">Variant name shared by its seeds, e.g. "recon", "gate-psi0.5", "avg-ss".</param>
/// <param name="Variant">The objective.</param>
/// <param name="Psi">The gate threshold (gated runs only).</param>
/// <param name="Seed">Initialisation and noise seed.</param>
/// <param name="Directory">The run's folder (checkpoint/, train_log.csv, model/).</param>
public sealed record FlowLossRun(string Name, FlowLossVariant Variant, double? Psi, ulong Seed, string Directory);

/// <summary>
/// Settings of <see cref="FlowLossExperiment"/>. <see cref="Base"/> carries everything the runs share (VAE, model, steps,
/// optimiser, clip size, validation cadence); its <c>OutputDirectory</c> is the experiment folder.
/// </summary>
public sealed record FlowLossExperimentOptions
{
    public required DitTrainingOptions Base { get; init; }

    public IReadOnlyList<FlowLossVariant> Variants { get; init; } = Enum.GetValues<FlowLossVariant>();

    /// <summary>Gate thresholds, one gated run (per seed) each.</summary>
    public IReadOnlyList<double> Psis { get; init; } = new[] { 0.25, 0.5, 1.0 };

    public IReadOnlyList<ulong> Seeds { get; init; } = new ulong[] { 0 };

    /// <summary>FlowLoss settings shared by the flow runs (their weighting and psi are set per run).</summary>
    public FlowLossOptions FlowLoss { get; init; } = new();

    /// <summary>Motion validation of every run (the experiment's flow-error curves).</summary>
    public FlowValidationOptions Validation { get; init; } = new();

    /// <summary>Throws an ArgumentException naming the first setting that is out of range.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Base, nameof(Base));
        Base.Validate();
        if (Variants.Count == 0 || Variants.Any(v => !Enum.IsDefined(v))) throw new ArgumentException("FlowLossExperiment: give at least one known variant.");
        if (Variants.Contains(FlowLossVariant.Gated) && (Psis.Count == 0 || Psis.Any(p => !(p > 0) || double.IsInfinity(p))))
            throw new ArgumentException("FlowLossExperiment: gated runs need at least one positive, finite psi.");
        if (Seeds.Count == 0 || Seeds.Distinct().Count() != Seeds.Count) throw new ArgumentException("FlowLossExperiment: give at least one seed, each once.");
        if (Psis.Distinct().Count() != Psis.Count) throw new ArgumentException("FlowLossExperiment: each psi once.");
        FlowLoss.Validate();
        Validation.Validate();
    }
}

/// <summary>
/// The experiment that tests FlowLoss's claim (faster early convergence of motion, similar final metrics): trains the
/// transformer from the same initialisation and data order with flow matching alone, with the hard-gated FlowLoss at
/// each psi, and with each weighted-average variant, for the same number of steps and per seed, then writes a summary
/// (<see cref="SummaryFile"/>, SVG curves of flow error against step, cost per step). Runs live in OUT/runs/NAME-sSEED;
/// an interrupted experiment resumes each run from its last checkpoint and skips finished ones.
/// </summary>
/// <remarks>
/// Every run draws the same t, eps and caption dropout (FlowLoss draws no random numbers) and sees the same clips. The
/// latents of all clips the runs will use are encoded once up front into the shared cache (OUT/latents), so no run pays
/// for encoding and the cost per step compares objectives only.
/// </remarks>
public static partial class FlowLossExperiment
{
    public const string RunsFolder = "runs";
    public const string SummaryFile = "summary.md";
    public const string SettingsFile = "experiment.txt";

    /// <summary>The runs of an experiment, in the order they are trained (seed-major, baseline first).</summary>
    public static IReadOnlyList<FlowLossRun> Plan(FlowLossExperimentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var runs = new List<FlowLossRun>();
        foreach (var seed in options.Seeds)
            foreach (var v in options.Variants.Distinct().OrderBy(v => v))
            {
                if (v == FlowLossVariant.Gated)
                    foreach (var psi in options.Psis) runs.Add(Make(options, v, psi, seed));
                else runs.Add(Make(options, v, null, seed));
            }
        return runs;
    }

    private static FlowLossRun Make(FlowLossExperimentOptions o, FlowLossVariant v, double? psi, ulong seed)
    {
        string name = v switch
        {
            FlowLossVariant.Reconstruction => "recon",
            FlowLossVariant.Gated => "gate-psi" + psi!.Value.ToString("0.###", CultureInfo.InvariantCulture),
            FlowLossVariant.SmallSigma => "avg-ss",
            _ => "avg-ls",
        };
        return new FlowLossRun(name, v, psi, seed, Path.Combine(o.Base.OutputDirectory, RunsFolder, $"{name}-s{seed}"));
    }

    /// <summary>The trainer settings of one run.</summary>
    public static DitTrainingOptions RunOptions(FlowLossExperimentOptions options, FlowLossRun run)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(run);
        FlowLossOptions? flow = run.Variant switch
        {
            FlowLossVariant.Reconstruction => null,
            FlowLossVariant.Gated => options.FlowLoss with { Weighting = FlowLossWeighting.HardGate, Psi = run.Psi!.Value },
            FlowLossVariant.SmallSigma => options.FlowLoss with { Weighting = FlowLossWeighting.SmallSigma },
            _ => options.FlowLoss with { Weighting = FlowLossWeighting.LargeSigma },
        };
        return options.Base with
        {
            OutputDirectory = run.Directory,
            Seed = run.Seed,
            FlowLoss = flow,
            FlowValidation = options.Validation,
            LatentCacheDirectory = options.Base.LatentCacheDirectory ?? Path.Combine(options.Base.OutputDirectory, "latents"),
            Resume = TrainingCheckpoint.Exists(Path.Combine(run.Directory, TrainingLoop.CheckpointFolder)),
            StopAfterSteps = null,
        };
    }

    /// <summary>Whether a run has reached its last step and exported its model.</summary>
    public static bool IsFinished(FlowLossExperimentOptions options, FlowLossRun run)
    {
        var csv = Path.Combine(run.Directory, DitTrainer.CsvLogFile);
        if (!File.Exists(Path.Combine(run.Directory, DitTrainer.ExportFolder, "model_index.json")) || !File.Exists(csv)) return false;
        var rows = TrainingCsvLog.Read(csv);
        return rows.Count > 0 && (long)rows[^1]["step"] >= options.Base.Steps;
    }

    /// <summary>
    /// Trains every planned run that is not finished (resuming from checkpoints), then writes the summary. Refuses to
    /// continue an experiment folder that was started with other shared settings. Returns the summary's path.
    /// </summary>
    public static string Run(FlowLossExperimentOptions options, TextWriter? log = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        log ??= TextWriter.Null;
        var root = options.Base.OutputDirectory;
        Directory.CreateDirectory(root);
        CheckSettings(options);
        var plan = Plan(options);
        log.WriteLine($"experiment flowloss: {plan.Count} runs of {options.Base.Steps} steps in {Path.Combine(root, RunsFolder)}");

        var todo = plan.Where(r => !IsFinished(options, r)).ToList();
        if (todo.Count > 0) WarmLatents(options, log, cancel);
        foreach (var run in plan)
        {
            cancel.ThrowIfCancellationRequested();
            if (!todo.Contains(run))
            {
                log.WriteLine($"experiment flowloss: {run.Name} seed {run.Seed} already finished");
                continue;
            }
            var o = RunOptions(options, run);
            log.WriteLine($"experiment flowloss: {run.Name} seed {run.Seed}{(o.Resume ? " (resuming)" : "")}");
            var result = DitTrainer.Train(o, new PrefixWriter(log, $"[{run.Name} s{run.Seed}] "), cancel);
            log.WriteLine(TrainingLoop.Invariant($"experiment flowloss: {run.Name} seed {run.Seed} done at step {result.Step} ({result.SecondsPerStep:F2} s/step)"));
        }
        var summary = WriteSummary(options);
        log.WriteLine($"experiment flowloss: summary in {summary}");
        return summary;
    }

    /// <summary>Encodes every clip the runs will read (training indices of all steps, and the validation clips) into the shared latent cache.</summary>
    private static void WarmLatents(FlowLossExperimentOptions options, TextWriter log, CancellationToken cancel)
    {
        var any = RunOptions(options, Plan(options)[0]);
        var vae = VideoAutoencoders.LoadFrozen(any.VaeDirectory);
        var cache = new LatentCache(vae, any);
        long train = Math.Min(any.TrainClips, any.Steps * any.BatchSize);
        int val = Math.Max(any.ValidationClips, options.Validation.Clips);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (long i = 0; i < train; i++)
        {
            cancel.ThrowIfCancellationRequested();
            using var scope = new TensorScope();
            cache.Get(i, WorldSplit.Train);
        }
        for (int i = 0; i < val; i++)
        {
            using var scope = new TensorScope();
            cache.Get(i, WorldSplit.Validation);
        }
        log.WriteLine(TrainingLoop.Invariant($"experiment flowloss: {train} training and {val} validation latents ready ({clock.Elapsed.TotalSeconds:F1} s)"));
    }

    /// <summary>Shared settings as text; a folder started with other settings is refused (a different run list is fine).</summary>
    private static void CheckSettings(FlowLossExperimentOptions o)
    {
        var b = o.Base;
        var f = o.FlowLoss;
        var v = o.Validation;
        string text;
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture; // records print their numbers with the current culture
        try
        {
            text = string.Join("\n",
                $"vae={Path.GetFullPath(b.VaeDirectory)}",
                $"steps={b.Steps} batch={b.BatchSize} lr={b.LearningRate} warmup={b.WarmupSteps} min-lr={b.MinLearningRate} wd={b.WeightDecay} ema={b.EmaDecay} clip={b.ClipNorm}",
                $"clips={b.Frames}x{b.Height}x{b.Width} train-clips={b.TrainClips} val-clips={b.ValidationClips} validate-every={b.ValidateEvery} caption-dropout={b.CaptionDropout}",
                $"model={b.Model.NumLayers}x{b.Model.NumHeads}x{b.Model.HeadDim} ffn={b.Model.FfnDim} text={b.TextEncoder}",
                $"flow-loss scale={f.Scale} occluded={f.OccludedWeight} target={f.Target} occlusion={f.Occlusion} estimator={f.Estimator}",
                $"validation clips={v.Clips} t={string.Join(",", v.Timesteps)} steps={v.SampleSteps} cfg={v.GuidanceScale} shift={v.Shift} sampler={v.Sampler} seed={v.Seed} ema={v.UseEma} estimator={v.Estimator}");
            // only when given, so folders of experiments started from random weights keep their settings text
            if (b.InitDirectory is { } init) text += $"\ninit={Path.GetFullPath(init)}";
        }
        finally { CultureInfo.CurrentCulture = culture; }
        var path = Path.Combine(b.OutputDirectory, SettingsFile);
        if (File.Exists(path))
        {
            var old = File.ReadAllText(path).Replace("\r", "", StringComparison.Ordinal).TrimEnd('\n');
            if (old != text)
            {
                var was = old.Split('\n');
                var now = text.Split('\n');
                int k = Enumerable.Range(0, Math.Max(was.Length, now.Length)).First(i => i >= was.Length || i >= now.Length || was[i] != now[i]);
                string Line(string[] lines) => k < lines.Length ? lines[k] : "(none)";
                throw new ArgumentException($"FlowLossExperiment: '{b.OutputDirectory}' holds an experiment with other settings ({Line(was)} | now {Line(now)}); use another --out.");
            }
            return;
        }
        AtomicWrite(path, text + "\n");
    }

    internal static void AtomicWrite(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text, new UTF8Encoding(false));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Prefixes every line written through it (one run's trainer log inside the experiment log).</summary>
    private sealed class PrefixWriter(TextWriter inner, string prefix) : TextWriter
    {
        private bool _lineStart = true;

        public override Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            if (_lineStart) inner.Write(prefix);
            inner.Write(value);
            _lineStart = value == '\n';
        }

        public override void Write(string? value)
        {
            if (value is null) return;
            foreach (var c in value) Write(c);
        }

        public override void WriteLine(string? value)
        {
            Write(value);
            Write('\n');
        }

        public override void Flush() => inner.Flush();
    }
}
