using System.Text.Json.Nodes;
using FlowGuide.Guidance;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Cli.Eval;

/// <summary>One video of an evaluation, as a method's factories see it.</summary>
/// <param name="PromptIndex">0-based index of the prompt in the prompt file.</param>
/// <param name="Prompt">The prompt text.</param>
/// <param name="Seed">The generation seed (the same for every method).</param>
/// <param name="Options">The sampling settings of this video (seed included).</param>
/// <param name="Model">The loaded model folder.</param>
/// <param name="Source">In a transfer evaluation (<c>--transfer FILE</c>), the job's source video and latent; every method of the job gets the same one. Null otherwise.</param>
public sealed record EvalJob(int PromptIndex, string Prompt, ulong Seed, GenerationOptions Options, ShippedModel Model, TransferSource? Source = null);

/// <summary>
/// What a method becomes once its options are read: the settings recorded with its results (a resumed run refuses to
/// mix results made with other settings), whether the user gave any of its options, a factory for the hooks of one
/// generation (called once per video, so hooks may keep per-run state), and optionally the reference video a
/// motion-transfer method follows, against which the harness then scores motion fidelity.
/// </summary>
/// <param name="Settings">JSON object describing the method's options; must include "name".</param>
/// <param name="OptionsGiven">True when the command line set any of this method's options.</param>
/// <param name="CreateHooks">Fresh hooks for one video (empty for plain sampling).</param>
/// <param name="Reference">The source video [3, F, H, W] in [-1, 1] of a job, or null; when set, the row gets motion_fidelity.</param>
/// <param name="Prepare">
/// Called once, only when the method is selected, after the command line is checked and before any video: loads what the
/// hooks share (weights) and throws if it is missing, so that a run fails before it starts rather than midway.
/// </param>
public sealed record EvalMethodSetup(JsonObject Settings, bool OptionsGiven, Func<EvalJob, IReadOnlyList<IGuidanceHook>> CreateHooks,
    Func<EvalJob, Tensor?>? Reference = null, Action? Prepare = null);

/// <summary>
/// One method <c>flowguide eval --methods</c> can run: a name, a line for the help text, the value-less options it
/// adds, and a reader that turns the command line into an <see cref="EvalMethodSetup"/>. Every registered method's
/// reader runs on every eval command line (so that its options count as known); a method that is not selected but
/// whose options were given is a usage error, unless a selected method reads them too (<paramref name="OptionsOf"/>).
/// </summary>
/// <param name="Name">What <c>--methods</c> calls it (also the name of its video and flow folders).</param>
/// <param name="Summary">One line for the help text.</param>
/// <param name="Flags">Its value-less options.</param>
/// <param name="Usage">Its lines of the help text.</param>
/// <param name="Read">Turns the command line into the method's setup (runs whether or not the method is selected).</param>
/// <param name="OptionsOf">
/// The methods whose options this one reads (null: its own only). A combination such as <c>motionprompt+flowmo</c>
/// lists both, reports no options of its own (<see cref="EvalMethodSetup.OptionsGiven"/> false), and when selected makes
/// those methods' options legal even if they are not selected themselves.
/// </param>
public sealed record EvalMethod(string Name, string Summary, IReadOnlyList<string> Flags, string Usage, Func<Args, EvalMethodSetup> Read,
    IReadOnlyList<string>? OptionsOf = null)
{
    /// <summary>The methods whose given options are legal when this one is selected.</summary>
    public IReadOnlyList<string> ReadsOptionsOf => OptionsOf ?? new[] { Name };

    /// <summary>Methods of one family read the same options (FlowMotion and its ablations); giving them is an error only when no method of the family is selected. Default: the name.</summary>
    public string? Family { get; init; }

    /// <summary>The method follows a source video (<see cref="EvalJob.Source"/>): it runs only in a transfer evaluation.</summary>
    public bool NeedsSource { get; init; }

    /// <summary>A baseline the summary also takes paired differences against (besides <see cref="EvalMethods.BaseName"/>), when it is in the run.</summary>
    public bool PairedReference { get; init; }

    /// <summary><see cref="Family"/>, or the name when none is set.</summary>
    public string FamilyName => Family ?? Name;
}

/// <summary>
/// The methods <c>flowguide eval</c> knows, by name. A new guidance method registers itself by adding one entry to
/// <see cref="All"/> (name, options, a factory of its hooks, and for motion transfer the reference video); the harness,
/// tables and report need nothing else.
/// </summary>
public static class EvalMethods
{
    /// <summary>The method paired differences are taken against.</summary>
    public const string BaseName = "base";

    /// <summary>Every registered method, in the order the help lists them.</summary>
    public static IReadOnlyList<EvalMethod> All { get; } = new EvalMethod[]
    {
        new(BaseName, "plain sampling (no guidance): the reference for paired differences", Array.Empty<string>(), "",
            _ => new EvalMethodSetup(new JsonObject { ["name"] = BaseName }, false, _ => Array.Empty<IGuidanceHook>())),
        new("flowmo", "FlowMo variance-based motion-coherence guidance (--flowmo-* options as in generate)",
            GuidanceArgs.Flags, FlowMoUsage, args =>
            {
                var (options, meta, given) = GuidanceArgs.ReadFlowMo(args);
                return new EvalMethodSetup(meta, given, _ => new IGuidanceHook[] { new FlowMoHook(options) });
            }),
        new("motion-guidance", "classifier guidance towards the asked motion with the model's latent motion classifier (--motion-guidance-* as in generate)",
            Array.Empty<string>(), MotionGuidanceUsage, MotionGuidance),
        new(MotionPromptName, "MotionPrompt: a flow discriminator steers a learnable prompt token (--motionprompt-* options as in generate)",
            new[] { "motionprompt-no-checkpointing" }, MotionPromptUsage, args => MotionPrompt(args, withFlowMo: false)),
        new(MotionPromptName + "+flowmo", "MotionPrompt, then FlowMo at every step (generate --guidance motionprompt,flowmo; both option sets)",
            Array.Empty<string>(), "", args => MotionPrompt(args, withFlowMo: true), OptionsOf: new[] { MotionPromptName, "flowmo" }),
    }.Concat(TransferEvalMethods.All).ToArray();

    private const string MotionPromptName = "motionprompt";


    /// <summary>The method called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static EvalMethod? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Value-less options of all registered methods (for <see cref="Command.Flags"/>).</summary>
    public static IEnumerable<string> Flags => All.SelectMany(m => m.Flags);

    /// <summary>
    /// MotionPrompt alone or followed by FlowMo: the discriminator (and RAFT-small for <c>--motionprompt-flow learned</c>) is
    /// loaded once, in <see cref="EvalMethodSetup.Prepare"/>, and shared by the fresh hooks of every video. The settings are
    /// generate's metadata (for the pair: name and both methods' metadata, as generate writes them).
    /// </summary>
    private static EvalMethodSetup MotionPrompt(Args args, bool withFlowMo)
    {
        var mp = GuidanceArgs.ReadMotionPrompt(args);
        var discriminator = new Lazy<FlowGuide.Models.Flow.FlowDiscriminator>(mp.LoadDiscriminator);
        var flow = new Lazy<Func<Tensor, Tensor, Tensor>?>(mp.LoadFlow);
        void Prepare() { _ = discriminator.Value; _ = flow.Value; }
        if (!withFlowMo)
            return new EvalMethodSetup(mp.Metadata, mp.AnyGiven, _ => new IGuidanceHook[] { mp.CreateHook(discriminator.Value, flow.Value) },
                Prepare: Prepare);
        var (flowmo, flowmoMeta, _) = GuidanceArgs.ReadFlowMo(args);
        var settings = new JsonObject
        {
            ["name"] = MotionPromptName + "+flowmo",
            ["methods"] = new JsonArray(mp.Metadata.DeepClone(), flowmoMeta),
        };
        return new EvalMethodSetup(settings, false,
            _ => new IGuidanceHook[] { mp.CreateHook(discriminator.Value, flow.Value), new FlowMoHook(flowmo) }, Prepare: Prepare);
    }

    /// <summary>Motion guidance as generate runs it by default on a model with a classifier (strength: the option, else the model's default, else 100).</summary>
    private static EvalMethodSetup MotionGuidance(Args args)
    {
        var read = GuidanceArgs.ReadMotionGuidance(args);
        var settings = new JsonObject
        {
            ["name"] = "motion-guidance",
            ["scale"] = read.Scale is { } s ? s : "model default",
            ["window"] = read.WindowText ?? "0:0.8",
            ["classifier"] = read.Classifier ?? GuidanceArgs.MotionClassifierFolder,
            ["candidates"] = read.Candidates is { } n ? n : "model default",
            ["probe_sigma"] = read.Options.ProbeSigma,
            ["lookahead_steps"] = read.Options.LookaheadSteps,
            ["min_class_accuracy"] = read.MinClassAccuracy is { } a ? a : "model default",
        };
        // every video gets a fresh hook (its history is per run) around the same classifier, read from disk once
        var loaded = new Dictionary<string, FlowGuide.Models.Video.LatentMotionClassifier>();
        FlowGuide.Models.Video.LatentMotionClassifier Load(string dir)
        {
            lock (loaded)
            {
                if (!loaded.TryGetValue(dir, out var c)) loaded[dir] = c = FlowGuide.Models.Video.LatentMotionClassifier.Load(dir);
                return c;
            }
        }
        return new EvalMethodSetup(settings, read.AnyGiven, job =>
        {
            var (hook, _) = read.Create(job.Model, fallbackScale: 100, Load);
            return hook is null ? Array.Empty<IGuidanceHook>() : new[] { hook };
        });
    }

    private const string MotionGuidanceUsage =
        "  --motion-guidance-scale X, --motion-guidance-window A:B, --motion-guidance-classifier DIR, --motion-candidates N,\n" +
        "  --motion-probe-sigma S, --motion-lookahead-steps K, --motion-min-class-accuracy A   (see 'flowguide help generate')\n";

    private const string MotionPromptUsage =
        "  --motionprompt-discriminator DIR, --motionprompt-window A:B, --motionprompt-iterations K, --motionprompt-tokens N,\n" +
        "  --motionprompt-init-word W, --motionprompt-pairs N, --motionprompt-l1/l2/l3 X, --motionprompt-lr X,\n" +
        "  --motionprompt-optimizer adam|sgd, --motionprompt-tv sum|mean, --motionprompt-flow classical|learned,\n" +
        "  --motionprompt-checkpoint F, --motionprompt-no-checkpointing   (see 'flowguide help generate'; motionprompt+flowmo reads both sets)\n";

    private const string FlowMoUsage =
        "  --flowmo-lr X, --flowmo-window A:B, --flowmo-optimizer adam|sgd, --flowmo-iterations N, --flowmo-reduction max|mean,\n" +
        "  --flowmo-no-recompute, --flowmo-no-checkpointing   (see 'flowguide help generate')\n";
}
