using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>
/// The naive motion-transfer baseline (SDEdit on video, diffusers' video-to-video "strength"): skip the first
/// <c>round((1 - strength) N)</c> of the run's N steps and start sampling, with no guidance, from the source latent noised
/// to that step's level with the run's own initial noise: <c>z = (1 - t_k) x_src + t_k z_T</c>. Strength 1 is plain
/// generation from z_T; strength 0 returns the source latent.
/// </summary>
/// <remarks>
/// Implemented as a hook so the loop stays as it is: on a skipped step it hands the loop the path point
/// <c>(1 - t) x_src + t z_T</c> with its exact velocity <c>z_T - x_src</c> (so no model call is made), and after the step
/// puts the latent exactly on the path at the next level. Euler therefore starts step k exactly at the noised source.
/// UniPC does too, but its history then holds the skipped steps' clean prediction (the source itself), so the first real
/// step's corrector and second-order term see it, where diffusers would restart the solver at first order; the
/// difference is a small pull towards the source at the first real step.
/// </remarks>
public sealed class NoisedSourceStart : GuidanceHook
{
    private readonly float[] _source;
    private readonly int[] _shape;

    /// <summary>A baseline start for <paramref name="sourceLatent"/> [1, C, F, H, W] (model space) at <paramref name="strength"/> in [0, 1].</summary>
    public NoisedSourceStart(Tensor sourceLatent, double strength) : base(WindowFor(strength))
    {
        ArgumentNullException.ThrowIfNull(sourceLatent);
        if (sourceLatent.Rank != 5 || sourceLatent.Size(0) != 1)
            throw new ArgumentException($"NoisedSourceStart: the source latent must be one video [1, C, F, H, W], got {sourceLatent.Shape}.", nameof(sourceLatent));
        Strength = strength;
        _source = sourceLatent.ToArray();
        _shape = sourceLatent.Shape.ToArray();
    }

    /// <summary>Fraction of the run that is actually sampled (diffusers' strength).</summary>
    public double Strength { get; }

    /// <summary>The step sampling starts at in a run of <paramref name="totalSteps"/> steps: <c>round((1 - strength) N)</c>.</summary>
    public int StartStep(int totalSteps) => Window.Resolve(totalSteps).End;

    private static StepWindow WindowFor(double strength)
    {
        if (!(strength >= 0 && strength <= 1)) throw new ArgumentException($"NoisedSourceStart: strength must lie in [0, 1], got {strength}.", nameof(strength));
        return StepWindow.Fractions(0, 1 - strength);
    }

    public override LatentUpdate? BeforeModel(StepContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var _ = GradMode.NoGrad();
        var x = Source(context);
        var n = context.InitialLatent;
        return new LatentUpdate(SourceVideo.Noised(x, context.Sigma, n), Ops.Sub(n, x)); // v = z_T - x_src, exact on the path
    }

    public override Tensor? AfterStep(StepContext context, Tensor newLatent)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var _ = GradMode.NoGrad();
        return SourceVideo.Noised(Source(context), context.NextSigma, context.InitialLatent);
    }

    private Tensor Source(StepContext context)
    {
        var x = Tensor.FromArray(_source, _shape);
        var shape = context.Latent.Shape.ToArray();
        if (shape.Length != 5 || !shape[1..].SequenceEqual(_shape[1..]))
            throw new InvalidOperationException($"NoisedSourceStart: the source latent {x.Shape} does not match the run's latent {context.Latent.Shape}.");
        return shape[0] == 1 ? x : Ops.Expand(x, shape).Clone();
    }
}
