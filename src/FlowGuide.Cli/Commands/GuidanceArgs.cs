using System.Globalization;
using System.Text.Json.Nodes;
using FlowGuide.Guidance;
using FlowGuide.Sampling;

namespace FlowGuide.Cli;

/// <summary>
/// The <c>--guidance</c> option family shared by commands that sample: <c>none</c> (default) or <c>flowmo</c> with its
/// <c>--flowmo-*</c> settings. A <c>--flowmo-*</c> option without <c>--guidance flowmo</c> is a usage error.
/// </summary>
internal static class GuidanceArgs
{
    /// <summary>Value-less options this family adds to a command's <see cref="Command.Flags"/>.</summary>
    public static readonly string[] Flags = { "flowmo-no-recompute", "flowmo-no-checkpointing" };

    public const string Usage =
        "  --guidance NAME     none (default) or flowmo (variance-based motion-coherence guidance)\n" +
        "  --flowmo-lr X       FlowMo learning rate (default 0.001)\n" +
        "  --flowmo-window A:B guided steps as fractions of the run (default 0:0.24, the first 12 of 50)\n" +
        "  --flowmo-optimizer NAME  adam (one fresh Adam step per guided step, default) or sgd (z -= lr * grad)\n" +
        "  --flowmo-iterations N    gradient steps per guided step (default 1)\n" +
        "  --flowmo-no-recompute    step with the velocity from before the update (the released code)\n" +
        "  --flowmo-no-checkpointing  keep all activations for the backward pass (faster, more memory)\n";

    /// <summary>Reads the options; returns the hooks to pass to the pipeline (empty for none) and their metadata.</summary>
    public static (IReadOnlyList<IGuidanceHook> Hooks, JsonObject Metadata) Read(Args args)
    {
        var name = (args.String("guidance") ?? "none").ToLowerInvariant();
        var (options, meta, given) = ReadFlowMo(args);
        switch (name)
        {
            case "none":
                if (given) throw new UsageException("--flowmo-* options need --guidance flowmo");
                return (Array.Empty<IGuidanceHook>(), new JsonObject { ["name"] = "none" });
            case "flowmo":
                return (new IGuidanceHook[] { new FlowMoHook(options) }, meta);
            default:
                throw new UsageException($"--guidance must be none or flowmo, got '{name}'");
        }
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
        bool noRecompute = args.Flag("flowmo-no-recompute");
        bool noCheckpointing = args.Flag("flowmo-no-checkpointing");
        bool given = lr is not null || window is not null || optimizer is not null || iterations is not null || noRecompute || noCheckpointing;
        var o = new FlowMoOptions
        {
            LearningRate = lr is null ? 1e-3 : (double)(decimal)args.Float("flowmo-lr", 0), // 0.05, not 0.0500000007
            Window = window is null ? FlowMoOptions.DefaultWindow : ParseWindow(window),
            Optimizer = (optimizer ?? "adam").ToLowerInvariant() switch
            {
                "adam" => FlowMoOptimizer.AdamOneStep,
                "sgd" => FlowMoOptimizer.GradientDescent,
                _ => throw new UsageException($"--flowmo-optimizer must be adam or sgd, got '{optimizer}'"),
            },
            Iterations = iterations is null ? 1 : args.Int("flowmo-iterations", 1),
            RecomputeAfterUpdate = !noRecompute,
            GradientCheckpointing = !noCheckpointing,
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
        };
        return (o, meta, given);
    }

    private static StepWindow ParseWindow(string s)
    {
        var parts = s.Split(':');
        if (parts.Length == 2
            && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var a)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var b)
            && a >= 0 && a <= b && b <= 1)
            return StepWindow.Fractions(a, b);
        throw new UsageException($"--flowmo-window expects START:END fractions with 0 <= START <= END <= 1 (e.g. 0:0.24), got '{s}'");
    }
}
