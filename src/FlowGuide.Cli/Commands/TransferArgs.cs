using System.Globalization;
using System.Text.Json.Nodes;
using FlowGuide.Guidance;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Cli;

/// <summary>Which method <c>flowguide transfer</c> runs.</summary>
internal enum TransferMethod { FlowMotion, NoisedSource, Plain }

/// <summary>
/// <c>flowguide transfer</c>'s method options: FlowMotion's settings (<c>--mode --alpha --beta --gamma --lr --iterations
/// --guided-steps --no-difference-alignment --no-velocity-regularization</c>) or a baseline (<c>--baseline noised-source
/// [--strength X]</c>, <c>--baseline plain</c>). A FlowMotion setting given with a baseline, or <c>--strength</c>
/// without noised-source, is a usage error rather than silently ignored.
/// </summary>
internal sealed record TransferArgs(TransferMethod Method, FlowMotionOptions FlowMotion, string GuidedSteps, double Strength)
{
    public const double DefaultStrength = 0.7;

    /// <summary>The default fraction of the run that is guided, as the options write it.</summary>
    public const string DefaultGuidedSteps = "0.2";

    public static TransferArgs Read(Args args)
    {
        var baseline = (args.String("baseline") ?? "none").ToLowerInvariant();
        var given = FlowMotionOptionNames.Where(n => args.String(n) is not null).ToList();
        if (args.Flag("no-difference-alignment")) given.Add("no-difference-alignment");
        if (args.Flag("no-velocity-regularization")) given.Add("no-velocity-regularization");
        var strength = args.String("strength");
        var method = baseline switch
        {
            "none" => TransferMethod.FlowMotion,
            "noised-source" => TransferMethod.NoisedSource,
            "plain" => TransferMethod.Plain,
            _ => throw new UsageException($"--baseline must be none, noised-source or plain, got '{baseline}'"),
        };
        if (method != TransferMethod.FlowMotion && given.Count > 0)
            throw new UsageException($"--{given[0]} is a FlowMotion setting; it cannot be used with --baseline {baseline}");
        if (strength is not null && method != TransferMethod.NoisedSource)
            throw new UsageException("--strength needs --baseline noised-source");
        double s = Double(args, "strength", DefaultStrength);
        if (!(s >= 0 && s <= 1)) throw new UsageException($"--strength must lie in [0, 1], got {strength}");

        var (fm, guided) = ReadFlowMotion(args, "");
        var o = fm with
        {
            DifferenceAlignment = !given.Contains("no-difference-alignment"),
            VelocityRegularization = !given.Contains("no-velocity-regularization"),
        };
        return new TransferArgs(method, o, guided, s);
    }

    /// <summary>FlowMotion's shared settings, each read from --PREFIX + its name.</summary>
    internal static readonly string[] FlowMotionOptionNames = { "mode", "alpha", "beta", "gamma", "lr", "iterations", "guided-steps" };

    /// <summary>
    /// FlowMotion's shared settings from <c>--{prefix}mode --{prefix}alpha ... --{prefix}guided-steps</c> (the released
    /// defaults where absent; "" for <c>flowguide transfer</c>, "flowmotion-" for <c>flowguide eval</c>), checked, with
    /// every error naming the option as the user wrote it. Returns the options (both ablation switches on) and the
    /// guided-steps text as given, which the metadata records.
    /// </summary>
    internal static (FlowMotionOptions Options, string GuidedSteps) ReadFlowMotion(Args args, string prefix)
    {
        var d = new FlowMotionOptions();
        var guided = args.String(prefix + "guided-steps") ?? DefaultGuidedSteps;
        StepWindow window;
        try { window = ParseGuidedSteps(guided); }
        catch (UsageException e) { throw new UsageException("--" + prefix + e.Message.TrimStart('-')); }
        var o = new FlowMotionOptions
        {
            Mode = (args.String(prefix + "mode") ?? "latent-prediction").ToLowerInvariant() switch
            {
                "latent-prediction" => FlowMotionMode.LatentPrediction,
                "clean-latent" => FlowMotionMode.CleanLatent,
                var m => throw new UsageException($"--{prefix}mode must be latent-prediction or clean-latent, got '{m}'"),
            },
            Alpha = Double(args, prefix + "alpha", d.Alpha),
            Beta = Double(args, prefix + "beta", d.Beta),
            Gamma = Double(args, prefix + "gamma", d.Gamma),
            LearningRate = Double(args, prefix + "lr", d.LearningRate),
            Iterations = args.Int(prefix + "iterations", d.Iterations),
            Window = window,
        };
        if (!(o.Alpha >= 0)) throw new UsageException($"--{prefix}alpha must be non-negative, got {o.Alpha}");
        if (!(o.Beta >= 0)) throw new UsageException($"--{prefix}beta must be non-negative, got {o.Beta}");
        if (!(o.Gamma >= 0)) throw new UsageException($"--{prefix}gamma must be non-negative, got {o.Gamma}");
        if (!(o.LearningRate > 0)) throw new UsageException($"--{prefix}lr must be positive, got {o.LearningRate}");
        if (o.Iterations < 1) throw new UsageException($"--{prefix}iterations must be at least 1, got {o.Iterations}");
        try { o.Validate(); }
        catch (ArgumentException e) { throw new UsageException($"--{prefix}* options: {e.Message}"); }
        return (o, guided);
    }

    /// <summary>The number given for --<paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    internal static double Double(Args args, string name, double fallback)
    {
        var s = args.String(name);
        if (s is null) return fallback;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
            : throw new UsageException($"--{name} expects a number, got '{s}'");
    }

    /// <summary>An integer N: the first N steps; a number with a decimal point in [0, 1]: that fraction of the run.</summary>
    internal static StepWindow ParseGuidedSteps(string s)
    {
        if (!s.Contains('.') && int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= 0)
            return StepWindow.Steps(0, n);
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && f >= 0 && f <= 1)
            return StepWindow.Fractions(0, f);
        throw new UsageException($"--guided-steps expects a step count N (e.g. 10) or a fraction of the run with a decimal point (e.g. 0.2), got '{s}'");
    }

    /// <summary>The hooks for the pipeline and the metadata describing them.</summary>
    public (IReadOnlyList<IGuidanceHook> Hooks, JsonObject Metadata) Build(Tensor sourceLatent, Tensor emptyPrompt, GenerationOptions options)
    {
        int steps = options.Steps;
        switch (Method)
        {
            case TransferMethod.Plain:
                return (Array.Empty<IGuidanceHook>(), new JsonObject { ["name"] = "plain" });
            case TransferMethod.NoisedSource:
                var start = new NoisedSourceStart(sourceLatent, Strength);
                int k = start.StartStep(steps);
                return (new IGuidanceHook[] { start }, new JsonObject
                {
                    ["name"] = "noised-source",
                    ["strength"] = Strength,
                    ["start_step"] = k,
                    ["start_sigma"] = SigmaSchedule.Create(steps, options.Shift).Sigmas[k],
                });
            default:
                var o = FlowMotion;
                var (s0, s1) = o.Window.Resolve(steps);
                return (new IGuidanceHook[] { FlowMotionHook.Create(o, sourceLatent, emptyPrompt) }, new JsonObject
                {
                    ["name"] = "flowmotion",
                    ["mode"] = o.Mode == FlowMotionMode.CleanLatent ? "clean-latent" : "latent-prediction",
                    ["alpha"] = o.Alpha,
                    ["beta"] = o.Beta,
                    ["gamma"] = o.Gamma,
                    ["learning_rate"] = o.LearningRate,
                    ["iterations"] = o.Iterations,
                    ["guided_steps"] = GuidedSteps,
                    ["guided_window"] = new JsonArray(s0, s1),
                    ["difference_alignment"] = o.DifferenceAlignment,
                    ["velocity_regularization"] = o.VelocityRegularization,
                });
        }
    }
}
