using System.Globalization;
using FlowGuide.Training;

namespace FlowGuide.Cli;

/// <summary>
/// The FlowLoss option family of <c>train dit</c> and <c>experiment flowloss</c>: the flow term's shared settings
/// (scale, target, occlusion, estimator effort) and the motion validation. <c>train dit</c> adds the switch
/// (<c>--flow-loss</c>), the weighting and psi.
/// </summary>
internal static class FlowLossArgs
{
    /// <summary>Value-less options this family adds to a command's <see cref="Command.Flags"/>.</summary>
    public static readonly string[] Flags = { "flow-loss", "val-flow-ema" };

    public const string SharedUsage =
        "  --flow-scale X       scale s of the flow term (default 1e-6, the paper's; tune until flow/fm is of order 1)\n" +
        "  --flow-target NAME   estimated (flow of the ground-truth clip by the same estimator, default) or world (its exact flow)\n" +
        "  --flow-occlusion NAME  world (the world's masks, default) or fb (forward-backward check on the estimated target)\n" +
        "  --occluded-weight X  weight of occluded pixels (default 0.3)\n" +
        "  --flow-warps N --flow-iterations N   TV-L1 effort of the differentiable estimator (default 3 warps x 20, 10 at the finest level)\n" +
        "  --val-flow N         motion validation on N fixed validation clips at each validation (0: off)\n" +
        "  --val-sample-steps N sampling steps of the validation videos (default 10; 0: only the one-step prediction error)\n" +
        "  --val-flow-ema       score the EMA weights instead of the current ones\n";

    public static readonly string TrainUsage =
        "  --flow-loss          add FlowLoss (noise-aware optical-flow loss on the decoded prediction)\n" +
        "  --flow-weighting NAME  gate (L_recon + w_psi L_flow, default), ss or ls (weighted averages emphasising small or large sigma)\n" +
        "  --psi X              gate threshold on sigma = t/(1-t) (default 0.5)\n" +
        SharedUsage.Replace("(0: off)", "(default 4 with --flow-loss, else 0 = off)", StringComparison.Ordinal);

    /// <summary>The shared flow-term settings (weighting and psi left at their defaults).</summary>
    public static FlowLossOptions ReadShared(Args args)
    {
        var o = new FlowLossOptions();
        var target = (args.String("flow-target") ?? "estimated").ToLowerInvariant();
        var occlusion = (args.String("flow-occlusion") ?? "world").ToLowerInvariant();
        int warps = args.Int("flow-warps", o.Estimator.Warps);
        var iterations = args.String("flow-iterations");
        int iters = args.Int("flow-iterations", o.Estimator.Iterations);
        var scale = args.String("flow-scale");
        o = o with
        {
            Scale = scale is null ? o.Scale : ParseDouble("flow-scale", scale),
            OccludedWeight = args.Float("occluded-weight", o.OccludedWeight),
            Target = target switch
            {
                "estimated" => FlowTargetSource.Estimated,
                "world" => FlowTargetSource.World,
                _ => throw new UsageException($"--flow-target must be estimated or world, got '{target}'"),
            },
            Occlusion = occlusion switch
            {
                "world" => OcclusionSource.World,
                "fb" => OcclusionSource.ForwardBackward,
                _ => throw new UsageException($"--flow-occlusion must be world or fb, got '{occlusion}'"),
            },
            Estimator = o.Estimator with
            {
                Warps = warps,
                Iterations = iters,
                FinestIterations = iterations is null ? o.Estimator.FinestIterations : Math.Max(1, iters / 2),
            },
        };
        return Checked(o);
    }

    /// <summary><c>train dit</c>'s FlowLoss settings, or null without <c>--flow-loss</c> (then no flow-term option may be given).</summary>
    public static FlowLossOptions? ReadTrain(Args args)
    {
        bool on = args.Flag("flow-loss");
        var weighting = args.String("flow-weighting");
        var psi = args.String("psi");
        var shared = new[] { "flow-scale", "flow-target", "flow-occlusion", "occluded-weight", "flow-warps", "flow-iterations" };
        if (!on)
        {
            var given = shared.Append("flow-weighting").Append("psi").FirstOrDefault(n => args.String(n) is not null);
            if (given is not null) throw new UsageException($"--{given} needs --flow-loss");
            return null;
        }
        var o = ReadShared(args) with
        {
            Weighting = (weighting ?? "gate").ToLowerInvariant() switch
            {
                "gate" => FlowLossWeighting.HardGate,
                "ss" => FlowLossWeighting.SmallSigma,
                "ls" => FlowLossWeighting.LargeSigma,
                _ => throw new UsageException($"--flow-weighting must be gate, ss or ls, got '{weighting}'"),
            },
            Psi = psi is null ? new FlowLossOptions().Psi : ParseDouble("psi", psi),
        };
        return Checked(o);
    }

    /// <summary>Motion validation settings, or null when <c>--val-flow</c> is 0 (<paramref name="defaultClips"/> when it is not given).</summary>
    public static FlowValidationOptions? ReadValidation(Args args, int defaultClips)
    {
        int clips = args.Int("val-flow", defaultClips);
        var d = new FlowValidationOptions();
        int steps = args.Int("val-sample-steps", d.SampleSteps);
        bool ema = args.Flag("val-flow-ema");
        if (clips < 0) throw new UsageException($"--val-flow must be >= 0, got {clips}");
        if (clips == 0) return null;
        var o = d with { Clips = clips, SampleSteps = steps, UseEma = ema };
        try { o.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        return o;
    }

    /// <summary>A comma-separated list of numbers, e.g. "0.25,0.5,1".</summary>
    public static double[] ParseList(string name, string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => ParseDouble(name, v)).ToArray() is { Length: > 0 } list
            ? list : throw new UsageException($"--{name} expects a comma-separated list of numbers, got '{value}'");

    private static double ParseDouble(string name, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
            : throw new UsageException($"--{name} expects a number, got '{value}'");

    private static FlowLossOptions Checked(FlowLossOptions o)
    {
        try { o.Validate(); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        return o;
    }
}
