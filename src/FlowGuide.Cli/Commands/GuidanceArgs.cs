using System.Globalization;
using System.Text.Json.Nodes;
using FlowGuide.Guidance;
using FlowGuide.Models.Flow;
using FlowGuide.Sampling;

namespace FlowGuide.Cli;

/// <summary>
/// The <c>--guidance</c> option family shared by commands that sample: <c>none</c> (default), <c>flowmo</c>,
/// <c>motionprompt</c>, or several joined by commas (<c>motionprompt,flowmo</c>), whose hooks run in the order given.
/// Each method's settings are <c>--flowmo-*</c> / <c>--motionprompt-*</c> options; one without its method is a usage error.
/// </summary>
internal static class GuidanceArgs
{
    /// <summary>Where the discriminator for the shipped model ships, relative to the checkout.</summary>
    public const string DefaultDiscriminatorPath = "models/motionprompt-discriminator";

    /// <summary>Value-less options this family adds to a command's <see cref="Command.Flags"/>.</summary>
    public static readonly string[] Flags = { "flowmo-no-recompute", "flowmo-no-checkpointing", "motionprompt-no-checkpointing" };

    private static readonly string[] FlowMoValues = { "flowmo-lr", "flowmo-window", "flowmo-optimizer", "flowmo-iterations", "flowmo-reduction" };

    private static readonly string[] MotionPromptValues =
    {
        "motionprompt-discriminator", "motionprompt-window", "motionprompt-iterations", "motionprompt-tokens", "motionprompt-init-word",
        "motionprompt-pairs", "motionprompt-l1", "motionprompt-l2", "motionprompt-l3", "motionprompt-lr", "motionprompt-optimizer",
        "motionprompt-tv", "motionprompt-flow", "motionprompt-checkpoint",
    };

    public const string Usage =
        "  --guidance NAMES    none (default), flowmo, motionprompt, or several joined by commas (e.g. motionprompt,flowmo),\n" +
        "                      applied in that order at each step\n" +
        "  --flowmo-lr X       FlowMo learning rate (default 0.001)\n" +
        "  --flowmo-window A:B guided steps as fractions of the run (default 0:0.24, the first 12 of 50)\n" +
        "  --flowmo-optimizer NAME  adam (one fresh Adam step per guided step, default) or sgd (z -= lr * grad)\n" +
        "  --flowmo-iterations N    gradient steps per guided step (default 1)\n" +
        "  --flowmo-reduction max|mean  patch reduction of the loss: max (paper, default) or mean (diagnostic)\n" +
        "  --flowmo-no-recompute    step with the velocity from before the update (the released code)\n" +
        "  --flowmo-no-checkpointing  keep all activations for the backward pass (faster, more memory)\n" +
        "  --motionprompt-discriminator DIR  trained flow discriminator ('flowguide train discriminator'; default " + DefaultDiscriminatorPath + ")\n" +
        "  --motionprompt-window A:B  optimised steps as fractions of the run (default 0.08:0.3, steps 4..14 of 50: the paper's 3<t<15)\n" +
        "  --motionprompt-iterations K  token updates per optimised step (default 3)\n" +
        "  --motionprompt-tokens N    learnable tokens appended to the prompt (default 1)\n" +
        "  --motionprompt-init-word W word whose embedding initialises them (default authentic; 'the' when not in the vocabulary)\n" +
        "  --motionprompt-pairs N     random adjacent frame pairs decoded per iteration (default 1)\n" +
        "  --motionprompt-l1 X --motionprompt-l2 X --motionprompt-l3 X  weights of log(1-D), TV(flow), |T-T0|^2 (default 1, 5, 10)\n" +
        "  --motionprompt-lr X        token learning rate (default 0.005)\n" +
        "  --motionprompt-optimizer NAME  adam (default, kept through the window) or sgd\n" +
        "  --motionprompt-tv sum|mean TV summed over pixels (default, the paper's formula) or averaged\n" +
        "  --motionprompt-flow NAME   classical (default: the settings the discriminator was trained with) or learned (RAFT-small)\n" +
        "  --motionprompt-checkpoint F  fraction of transformer blocks checkpointed in the differentiated pass (default 0:\n" +
        "                      fastest; 1: least memory, for large models such as Wan2.1)\n" +
        "  --motionprompt-no-checkpointing  keep all transformer activations for the backward pass (--motionprompt-checkpoint 0)\n" +
        "  --motion-guidance-scale X  motion classifier guidance towards the motion the prompt asks for (default: the\n" +
        "                      model's motion_guidance_scale when its folder has a motion_classifier/, else off; 0 turns it off)\n" +
        "  --motion-guidance-window A:B  guided steps as fractions of the run (default 0:0.8)\n" +
        "  --motion-guidance-classifier DIR  classifier folder ('flowguide train classifier'; default MODEL/motion_classifier)\n" +
        "  --motion-candidates N  with motion guidance, choose the initial noise among N: each is carried by a short guided\n" +
        "                      look-ahead to --motion-probe-sigma and the classifier keeps the one that best shows the asked\n" +
        "                      motion (default: the model's motion_candidates, else 1 = no search)\n" +
        "  --motion-probe-sigma S  noise level the candidates are scored at (default 0.5)\n" +
        "  --motion-lookahead-steps K  Euler steps of each candidate's look-ahead (default 4)\n" +
        "  --motion-min-class-accuracy A  leave a prompt unguided when the classifier's validation accuracy on the asked\n" +
        "                      motion is below A (default: the model's motion_min_class_accuracy, else 0 = guide all)\n";

    /// <summary>Reads the options; returns the hooks to pass to the pipeline (empty for none) and their metadata.</summary>
    public static (IReadOnlyList<IGuidanceHook> Hooks, JsonObject Metadata) Read(Args args)
    {
        var names = (args.String("guidance") ?? "none").ToLowerInvariant().Split(',', StringSplitOptions.TrimEntries);
        var flowmoGiven = FlowMoValues.Where(o => args.String(o) is not null).Concat(new[] { "flowmo-no-recompute", "flowmo-no-checkpointing" }.Where(args.Flag)).ToList();
        var mpGiven = MotionPromptValues.Where(o => args.String(o) is not null).Concat(new[] { "motionprompt-no-checkpointing" }.Where(args.Flag)).ToList();
        if (names.Length > 1 && names.Contains("none")) throw new UsageException("--guidance none cannot be combined with other methods");
        if (names.Distinct().Count() != names.Length) throw new UsageException($"--guidance names a method twice: '{string.Join(',', names)}'");
        foreach (var n in names)
            if (n is not ("none" or "flowmo" or "motionprompt"))
                throw new UsageException($"--guidance must be none, flowmo, motionprompt or a comma-separated list of them, got '{n}'");
        if (flowmoGiven.Count > 0 && !names.Contains("flowmo")) throw new UsageException($"--{flowmoGiven[0]} needs --guidance flowmo");
        if (mpGiven.Count > 0 && !names.Contains("motionprompt")) throw new UsageException($"--{mpGiven[0]} needs --guidance motionprompt");
        if (names is ["none"]) return (Array.Empty<IGuidanceHook>(), new JsonObject { ["name"] = "none" });

        var hooks = new List<IGuidanceHook>();
        var metas = new List<JsonObject>();
        foreach (var n in names)
        {
            var (hook, meta) = n == "flowmo" ? FlowMo(args) : MotionPrompt(args);
            hooks.Add(hook);
            metas.Add(meta);
        }
        if (metas.Count == 1) return (hooks, metas[0]);
        var combined = new JsonObject { ["name"] = string.Join(',', names), ["methods"] = new JsonArray(metas.Cast<JsonNode?>().ToArray()) };
        return (hooks, combined);
    }

    private static (IGuidanceHook, JsonObject) FlowMo(Args args)
    {
        var (options, meta, _) = ReadFlowMo(args);
        return (new FlowMoHook(options), meta);
    }

    /// <summary>
    /// Reads every <c>--flowmo-*</c> option (defaults for those not given); returns the validated options, their
    /// metadata, and whether any option was given (so a caller can reject them when FlowMo is not selected).
    /// </summary>
    public static (FlowMoOptions Options, JsonObject Metadata, bool AnyGiven) ReadFlowMo(Args args)
    {
        var lr = args.String("flowmo-lr");
        var window = args.String("flowmo-window");
        var optimizer = args.String("flowmo-optimizer");
        var iterations = args.String("flowmo-iterations");
        var reduction = args.String("flowmo-reduction");
        bool noRecompute = args.Flag("flowmo-no-recompute");
        bool noCheckpointing = args.Flag("flowmo-no-checkpointing");
        bool given = lr is not null || window is not null || optimizer is not null || iterations is not null || reduction is not null || noRecompute || noCheckpointing;
        var o = new FlowMoOptions
        {
            LearningRate = lr is null ? 1e-3 : (double)(decimal)args.Float("flowmo-lr", 0), // 0.05, not 0.0500000007
            Window = window is null ? FlowMoOptions.DefaultWindow : ParseWindow(window, "flowmo-window"),
            Optimizer = (optimizer ?? "adam").ToLowerInvariant() switch
            {
                "adam" => FlowMoOptimizer.AdamOneStep,
                "sgd" => FlowMoOptimizer.GradientDescent,
                _ => throw new UsageException($"--flowmo-optimizer must be adam or sgd, got '{optimizer}'"),
            },
            Iterations = iterations is null ? 1 : args.Int("flowmo-iterations", 1),
            RecomputeAfterUpdate = !noRecompute,
            GradientCheckpointing = !noCheckpointing,
            Reduction = (reduction ?? "max").ToLowerInvariant() switch
            {
                "max" => FlowMoReduction.Max,
                "mean" => FlowMoReduction.Mean,
                _ => throw new UsageException($"--flowmo-reduction must be max or mean, got '{reduction}'"),
            },
        };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var meta = new JsonObject
        {
            ["name"] = "flowmo",
            ["learning_rate"] = o.LearningRate,
            ["window"] = window ?? "0:0.24",
            ["optimizer"] = o.Optimizer == FlowMoOptimizer.AdamOneStep ? "adam" : "sgd",
            ["iterations"] = o.Iterations,
            ["recompute_after_update"] = o.RecomputeAfterUpdate,
            ["gradient_checkpointing"] = o.GradientCheckpointing,
            ["reduction"] = o.Reduction == FlowMoReduction.Max ? "max" : "mean",
        };
        return (o, meta, given);
    }

    /// <summary>Folder of a model's motion classifier, relative to the model folder.</summary>
    public const string MotionClassifierFolder = "motion_classifier";

    /// <summary>The <c>--motion-guidance-*</c> options as given: a null scale or classifier means the model's own.</summary>
    public sealed record MotionGuidanceArgs(double? Scale, MotionGuidanceOptions Options, string? WindowText, string? Classifier, int? Candidates = null,
        double? MinClassAccuracy = null, bool SearchOptionsGiven = false)
    {
        /// <summary>Whether any option was given.</summary>
        public bool AnyGiven => Scale is not null || WindowText is not null || Classifier is not null || Candidates is not null || MinClassAccuracy is not null
            || SearchOptionsGiven;

        /// <summary>
        /// The hook for a run with <paramref name="model"/>, or null when the strength is 0 or the model has no classifier
        /// and none was named; with its metadata. The strength is --motion-guidance-scale, else the model's default, else
        /// <paramref name="fallbackScale"/>. A classifier that was asked for but is missing throws naming the folder.
        /// <paramref name="load"/> reads a classifier folder (default <see cref="FlowGuide.Models.Video.LatentMotionClassifier.Load"/>;
        /// a caller making many hooks passes one that loads each folder once).
        /// </summary>
        public (IGuidanceHook? Hook, JsonObject Metadata) Create(ShippedModel model, double fallbackScale = 0,
            Func<string, FlowGuide.Models.Video.LatentMotionClassifier>? load = null)
        {
            if (Classifier is not null && !Directory.Exists(Classifier))
                throw new UsageException($"--motion-guidance-classifier: '{Classifier}' does not exist (train one with 'flowguide train classifier')");
            double scale = Scale ?? (model.Defaults.MotionGuidanceScale > 0 ? model.Defaults.MotionGuidanceScale : fallbackScale);
            if (scale == 0) return (null, new JsonObject { ["name"] = "none" });
            var dir = Classifier ?? Path.Combine(model.Directory, MotionClassifierFolder);
            if (!Directory.Exists(dir))
            {
                // only the model's own folder can be missing here: an error when a strength was asked for, else no guidance
                if (Scale is > 0)
                    throw new UsageException($"motion guidance needs a motion classifier: '{dir}' does not exist (train one with 'flowguide train classifier')");
                return (null, new JsonObject { ["name"] = "none" });
            }
            var classifier = (load ?? FlowGuide.Models.Video.LatentMotionClassifier.Load)(dir);
            int candidates = Candidates ?? Math.Max(1, model.Defaults.MotionCandidates);
            var options = Options with
            {
                Scale = scale, Candidates = candidates, MinClassAccuracy = MinClassAccuracy ?? model.Defaults.MotionMinClassAccuracy,
            };
            var meta = new JsonObject
            {
                ["name"] = "motion-guidance",
                ["scale"] = scale,
                ["window"] = WindowText ?? "0:0.8",
                ["max_weight"] = options.MaxWeight,
                ["classifier"] = Classifier ?? MotionClassifierFolder,
            };
            if (options.MinClassAccuracy > 0) meta["min_class_accuracy"] = options.MinClassAccuracy;
            if (candidates > 1)
            {
                meta["candidates"] = candidates;
                meta["probe_sigma"] = options.ProbeSigma;
                meta["lookahead_steps"] = options.LookaheadSteps;
            }
            return (new MotionClassifierHook(classifier, options, WorldTarget), meta);
        }
    }

    /// <summary>The motion-world class and subject colour a prompt asks for, or null for a prompt outside the caption grammar.</summary>
    private static MotionTarget? WorldTarget(string? prompt) =>
        prompt is not null && FlowGuide.Training.World.MotionLabels.TargetOf(prompt) is { } t ? new MotionTarget(t.Class, t.Subject) : null;

    /// <summary>A noise search as metadata: the candidates' log p(asked motion) at the probe level and the one kept.</summary>
    public static JsonObject SearchMetadata(MotionCandidateRecord r) => new()
    {
        ["probe_sigma"] = r.ProbeSigma,
        ["log_probabilities"] = new JsonArray(r.LogProbabilities.Select(v => (JsonNode)Math.Round(v, 4)).ToArray()),
        ["chosen"] = r.Chosen,
    };

    /// <summary>Reads the <c>--motion-guidance-*</c> options without loading anything.</summary>
    public static MotionGuidanceArgs ReadMotionGuidance(Args args)
    {
        var scale = args.String("motion-guidance-scale");
        var window = args.String("motion-guidance-window");
        var classifier = args.String("motion-guidance-classifier");
        double? s = scale is null ? null : (double)(decimal)args.Float("motion-guidance-scale", 0);
        int? candidates = args.String("motion-candidates") is null ? null : args.Int("motion-candidates", 1);
        double? minAccuracy = args.String("motion-min-class-accuracy") is null ? null : Double(args, "motion-min-class-accuracy", 0);
        var d = new MotionGuidanceOptions();
        var o = d with
        {
            Scale = s ?? 0,
            Window = window is null ? MotionGuidanceOptions.DefaultWindow : ParseWindow(window, "motion-guidance-window"),
            Candidates = candidates ?? 1,
            ProbeSigma = Double(args, "motion-probe-sigma", d.ProbeSigma),
            LookaheadSteps = args.Int("motion-lookahead-steps", d.LookaheadSteps),
            MinClassAccuracy = minAccuracy ?? 0,
        };
        try { o.Validate(); }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message.Replace("MotionGuidanceOptions: Scale", "--motion-guidance-scale")
                .Replace("MotionGuidanceOptions: Candidates", "--motion-candidates").Replace("MotionGuidanceOptions: ProbeSigma", "--motion-probe-sigma")
                .Replace("MotionGuidanceOptions: MinClassAccuracy", "--motion-min-class-accuracy")
                .Replace("MotionGuidanceOptions: LookaheadSteps", "--motion-lookahead-steps"));
        }
        bool searchGiven = args.String("motion-probe-sigma") is not null || args.String("motion-lookahead-steps") is not null;
        return new MotionGuidanceArgs(s, o, window, classifier, candidates, minAccuracy, searchGiven);
    }

    private static (IGuidanceHook, JsonObject) MotionPrompt(Args args)
    {
        var read = ReadMotionPrompt(args);
        return (read.CreateHook(read.LoadDiscriminator(), read.LoadFlow()), read.Metadata);
    }

    /// <summary>
    /// Reads every <c>--motionprompt-*</c> option (defaults for those not given) without loading anything: the validated
    /// options, the discriminator folder (the shipped one when not given), the flow estimator's name, the metadata, and
    /// whether any option was given (so a caller can reject them when MotionPrompt is not selected).
    /// </summary>
    public static MotionPromptArgs ReadMotionPrompt(Args args)
    {
        var d = new MotionPromptOptions();
        var window = args.String("motionprompt-window");
        var optimizer = args.String("motionprompt-optimizer");
        var tv = args.String("motionprompt-tv");
        var flowArg = args.String("motionprompt-flow");
        var discArg = args.String("motionprompt-discriminator");
        bool given = MotionPromptValues.Any(o => args.String(o) is not null) || args.Flag("motionprompt-no-checkpointing");
        var o = d with
        {
            Window = window is null ? MotionPromptOptions.DefaultWindow : ParseWindow(window, "motionprompt-window"),
            Iterations = args.Int("motionprompt-iterations", d.Iterations),
            TokenCount = args.Int("motionprompt-tokens", d.TokenCount),
            InitWord = args.String("motionprompt-init-word") ?? d.InitWord,
            FramePairs = args.Int("motionprompt-pairs", d.FramePairs),
            DiscriminatorWeight = Double(args, "motionprompt-l1", d.DiscriminatorWeight),
            TvWeight = Double(args, "motionprompt-l2", d.TvWeight),
            RegularizationWeight = Double(args, "motionprompt-l3", d.RegularizationWeight),
            LearningRate = Double(args, "motionprompt-lr", d.LearningRate),
            Optimizer = (optimizer ?? "adam").ToLowerInvariant() switch
            {
                "adam" => MotionPromptOptimizer.Adam,
                "sgd" => MotionPromptOptimizer.GradientDescent,
                _ => throw new UsageException($"--motionprompt-optimizer must be adam or sgd, got '{optimizer}'"),
            },
            Tv = (tv ?? "sum").ToLowerInvariant() switch
            {
                "sum" => TvReduction.Sum,
                "mean" => TvReduction.Mean,
                _ => throw new UsageException($"--motionprompt-tv must be sum or mean, got '{tv}'"),
            },
            CheckpointFraction = args.Flag("motionprompt-no-checkpointing") ? 0 : Double(args, "motionprompt-checkpoint", d.CheckpointFraction),
        };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        var flowName = (flowArg ?? "classical").ToLowerInvariant();
        if (flowName is not ("classical" or "learned"))
            throw new UsageException($"--motionprompt-flow must be classical or learned, got '{flowArg}'");

        var discDir = Path.GetFullPath(discArg ?? FindDefaultDiscriminator());
        var meta = new JsonObject
        {
            ["name"] = "motionprompt",
            ["discriminator"] = discDir,
            ["discriminator_sha256"] = WeightsFingerprint(Path.Combine(discDir, FlowDiscriminator.WeightsFileName)),
            ["window"] = window ?? "0.08:0.3",
            ["iterations"] = o.Iterations,
            ["tokens"] = o.TokenCount,
            ["init_word"] = o.InitWord,
            ["frame_pairs"] = o.FramePairs,
            ["l1"] = o.DiscriminatorWeight,
            ["l2"] = o.TvWeight,
            ["l3"] = o.RegularizationWeight,
            ["learning_rate"] = o.LearningRate,
            ["optimizer"] = o.Optimizer == MotionPromptOptimizer.Adam ? "adam" : "sgd",
            ["tv"] = o.Tv == TvReduction.Sum ? "sum" : "mean",
            ["flow"] = flowName,
            ["checkpoint_fraction"] = o.CheckpointFraction,
            ["reuse_velocity"] = o.ReuseVelocity,
        };
        return new MotionPromptArgs(o, discDir, flowName, meta, given);
    }

    /// <summary>The first 16 hex digits of a file's SHA-256 (null when it does not exist): tells retrained weights at the same path apart.</summary>
    private static string? WeightsFingerprint(string path)
    {
        if (!File.Exists(path)) return null;
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream))[..16];
    }

    private static double Double(Args args, string name, double fallback)
    {
        var s = args.String(name);
        if (s is null) return fallback;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
            : throw new UsageException($"--{name} expects a number, got '{s}'");
    }

    /// <summary>RAFT-small from the shipped weights, frozen (for <c>--motionprompt-flow learned</c>).</summary>
    internal static Func<FlowGuide.Tensors.Tensor, FlowGuide.Tensors.Tensor, FlowGuide.Tensors.Tensor> LearnedFlow()
    {
        var path = FlowEstimators.FindLearnedWeights();
        if (!File.Exists(path))
            throw new FileNotFoundException($"--motionprompt-flow learned: RAFT-small weights not found at '{path}' (train them with 'flowguide train flow', or use --motionprompt-flow classical).", path);
        var raft = RaftSmall.Load(path);
        raft.Freeze();
        return (a, b) => raft.Estimate(a, b);
    }

    /// <summary><see cref="DefaultDiscriminatorPath"/> as <see cref="ShippedFiles.Find"/> resolves it (the loader names it when missing).</summary>
    private static string FindDefaultDiscriminator() => ShippedFiles.Find(DefaultDiscriminatorPath);

    private static StepWindow ParseWindow(string s, string option)
    {
        var parts = s.Split(':');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var b)
            && a >= 0 && a <= b && b <= 1)
            return StepWindow.Fractions(a, b);
        throw new UsageException($"--{option} expects START:END fractions with 0 <= START <= END <= 1 (e.g. 0:0.24), got '{s}'");
    }
}

/// <summary>The <c>--motionprompt-*</c> options as <see cref="GuidanceArgs.ReadMotionPrompt"/> read them; nothing loaded yet.</summary>
/// <param name="Options">Validated hook options.</param>
/// <param name="DiscriminatorDir">Full path of the discriminator folder (not checked yet).</param>
/// <param name="FlowName">classical or learned.</param>
/// <param name="Metadata">What generate's run summary and eval's settings record.</param>
/// <param name="AnyGiven">Whether the command line set any <c>--motionprompt-*</c> option.</param>
internal sealed record MotionPromptArgs(MotionPromptOptions Options, string DiscriminatorDir, string FlowName, JsonObject Metadata, bool AnyGiven)
{
    /// <summary>Loads the discriminator; a missing folder is a <see cref="DirectoryNotFoundException"/> that says how to make one.</summary>
    public FlowDiscriminator LoadDiscriminator()
    {
        if (!Directory.Exists(DiscriminatorDir))
            throw new DirectoryNotFoundException($"MotionPrompt discriminator folder '{DiscriminatorDir}' does not exist; train one with 'flowguide train discriminator --out DIR' and pass --motionprompt-discriminator DIR.");
        return FlowDiscriminator.Load(DiscriminatorDir);
    }

    /// <summary>The flow estimator the hook differentiates: null for ClassicalFlow at the discriminator's settings, else RAFT-small.</summary>
    public Func<FlowGuide.Tensors.Tensor, FlowGuide.Tensors.Tensor, FlowGuide.Tensors.Tensor>? LoadFlow() =>
        FlowName == "learned" ? GuidanceArgs.LearnedFlow() : null;

    /// <summary>A fresh hook (per-run state) around a loaded discriminator and flow estimator; the prompt comes from each run.</summary>
    public MotionPromptHook CreateHook(FlowDiscriminator discriminator, Func<FlowGuide.Tensors.Tensor, FlowGuide.Tensors.Tensor, FlowGuide.Tensors.Tensor>? flow) =>
        new(discriminator, Options, prompt: null, flow);
}
