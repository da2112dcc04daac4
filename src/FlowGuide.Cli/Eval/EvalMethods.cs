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
public sealed record EvalMethodSetup(JsonObject Settings, bool OptionsGiven, Func<EvalJob, IReadOnlyList<IGuidanceHook>> CreateHooks,
    Func<EvalJob, Tensor?>? Reference = null);

/// <summary>
/// One method <c>flowguide eval --methods</c> can run: a name, a line for the help text, the value-less options it
/// adds, and a reader that turns the command line into an <see cref="EvalMethodSetup"/>. Every registered method's
/// reader runs on every eval command line (so that its options count as known); a method that is not selected but
/// whose options were given is a usage error.
/// </summary>
public sealed record EvalMethod(string Name, string Summary, IReadOnlyList<string> Flags, string Usage, Func<Args, EvalMethodSetup> Read)
{
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
    }.Concat(TransferEvalMethods.All).ToArray();

    /// <summary>The method called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static EvalMethod? Find(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>Value-less options of all registered methods (for <see cref="Command.Flags"/>).</summary>
    public static IEnumerable<string> Flags => All.SelectMany(m => m.Flags);

    private const string FlowMoUsage =
        "  --flowmo-lr X, --flowmo-window A:B, --flowmo-optimizer adam|sgd, --flowmo-iterations N, --flowmo-reduction max|mean,\n" +
        "  --flowmo-no-recompute, --flowmo-no-checkpointing   (see 'flowguide help generate')\n";
}
