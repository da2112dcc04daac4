using System.Globalization;
using System.Text.Json.Nodes;
using FlowGuide.Guidance;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Cli.Eval;

/// <summary>
/// The motion-transfer methods of <c>flowguide eval --transfer FILE</c> (issue 9): FlowMotion with the released defaults,
/// its two ablations (each differs from it in exactly the one switch its name says), and the naive baseline that starts
/// sampling from the noised source latent. Plain generation from the prompt is the registry's <c>base</c>. Every one of
/// them runs a job from the job's source (<see cref="EvalJob.Source"/>) and the job's seed, exactly as
/// <c>flowguide transfer</c> does with the same source, prompt, seed and settings.
/// </summary>
public static class TransferEvalMethods
{
    public const string FlowMotionName = "flowmotion";
    public const string NoDifferenceAlignmentName = "flowmotion-no-da";
    public const string NoVelocityRegularizationName = "flowmotion-no-vr";
    public const string NoisedSourceName = "noised-source";

    /// <summary>The default fraction of the run that is guided, as the options write it.</summary>
    public const string DefaultGuidedSteps = TransferArgs.DefaultGuidedSteps;

    /// <summary>The four entries, in the order <c>flowguide help eval</c> lists them.</summary>
    public static IReadOnlyList<EvalMethod> All { get; } = new EvalMethod[]
    {
        new(NoisedSourceName, "motion-transfer baseline: start from the source latent noised to --noised-source-strength, no guidance",
            Array.Empty<string>(), NoisedSourceUsage, ReadNoisedSource) { NeedsSource = true, PairedReference = true },
        new(FlowMotionName, "FlowMotion motion transfer from the job's source video (--flowmotion-* options, released defaults)",
            Array.Empty<string>(), FlowMotionUsage, args => ReadFlowMotion(args, FlowMotionName, o => o)) { Family = FlowMotionName, NeedsSource = true },
        new(NoDifferenceAlignmentName, "FlowMotion ablation: latent alignment only (difference alignment off)",
            Array.Empty<string>(), "", args => ReadFlowMotion(args, NoDifferenceAlignmentName, o => o with { DifferenceAlignment = false }))
            { Family = FlowMotionName, NeedsSource = true },
        new(NoVelocityRegularizationName, "FlowMotion ablation: raw velocity in the target prediction (velocity regularisation off)",
            Array.Empty<string>(), "", args => ReadFlowMotion(args, NoVelocityRegularizationName, o => o with { VelocityRegularization = false }))
            { Family = FlowMotionName, NeedsSource = true },
    };

    /// <summary>
    /// FlowMotion's options from <c>--flowmotion-*</c> (the released defaults otherwise), the method's variant applied by
    /// <paramref name="variant"/>; the settings record every option and both switches.
    /// </summary>
    internal static EvalMethodSetup ReadFlowMotion(Args args, string name, Func<FlowMotionOptions, FlowMotionOptions> variant)
    {
        // 1. the shared options (one parser with flowguide transfer's, under the --flowmotion- prefix)
        bool given = TransferArgs.FlowMotionOptionNames.Any(n => args.String("flowmotion-" + n) is not null);
        var (shared, guided) = TransferArgs.ReadFlowMotion(args, "flowmotion-");
        var options = variant(shared);

        // 2. what run.json records, and the hook per video
        var settings = new JsonObject
        {
            ["name"] = name,
            ["mode"] = options.Mode == FlowMotionMode.CleanLatent ? "clean-latent" : "latent-prediction",
            ["alpha"] = options.Alpha,
            ["beta"] = options.Beta,
            ["gamma"] = options.Gamma,
            ["learning_rate"] = options.LearningRate,
            ["iterations"] = options.Iterations,
            ["guided_steps"] = guided,
            ["difference_alignment"] = options.DifferenceAlignment,
            ["velocity_regularization"] = options.VelocityRegularization,
        };
        return new EvalMethodSetup(settings, given, job =>
        {
            var source = SourceOf(job, name);
            Tensor empty;
            using (GradMode.NoGrad()) empty = job.Model.TextEncoder.Encode("");
            return new IGuidanceHook[] { FlowMotionHook.Create(options, source.Latent, empty) };
        });
    }

    private static EvalMethodSetup ReadNoisedSource(Args args)
    {
        var text = args.String("noised-source-strength");
        double strength = TransferArgs.Double(args, "noised-source-strength", TransferArgs.DefaultStrength);
        if (!(strength >= 0 && strength <= 1)) throw new UsageException($"--noised-source-strength must lie in [0, 1], got {text}");
        var settings = new JsonObject { ["name"] = NoisedSourceName, ["strength"] = strength };
        return new EvalMethodSetup(settings, text is not null,
            job => new IGuidanceHook[] { new NoisedSourceStart(SourceOf(job, NoisedSourceName).Latent, strength) });
    }

    private static TransferSource SourceOf(EvalJob job, string method) =>
        job.Source ?? throw new InvalidOperationException($"method '{method}' follows a source video; run it with --transfer FILE.");

    private const string NoisedSourceUsage =
        "  --noised-source-strength X   fraction of the steps sampled from the noised source (default 0.7)\n";

    private const string FlowMotionUsage =
        "  --flowmotion-mode M, --flowmotion-alpha X, --flowmotion-beta X, --flowmotion-gamma X, --flowmotion-lr X,\n" +
        "  --flowmotion-iterations N, --flowmotion-guided-steps N|F   (see 'flowguide help transfer'; shared by\n" +
        "  flowmotion, flowmotion-no-da and flowmotion-no-vr, which differ only in the switch their name says)\n";
}
