using FlowGuide.Sampling;

namespace FlowGuide.Guidance;

/// <summary>How FlowMo moves the latent along the loss gradient.</summary>
public enum FlowMoOptimizer
{
    /// <summary>
    /// A fresh Adam (default betas 0.9/0.999, eps 1e-8) per guided step, as in the released code. On its first
    /// iteration the bias-corrected update is <c>lr * g / (|g| + eps)</c>, i.e. about <c>lr * sign(g)</c> per element.
    /// </summary>
    AdamOneStep,
    /// <summary>Plain gradient descent <c>z &lt;- z - lr * g</c>, as the paper's slides write it.</summary>
    GradientDescent,
}

/// <summary>
/// Settings of <see cref="FlowMoHook"/>. Defaults are the released FlowMo code's, except
/// <see cref="RecomputeAfterUpdate"/> (on, as in the paper's algorithm; off reproduces the released code).
/// </summary>
public sealed record FlowMoOptions
{
    /// <summary>Guided steps. Default: fractions [0, 0.24), the first 12 of 50 steps, scaling with the step count.</summary>
    public StepWindow Window { get; init; } = DefaultWindow;

    /// <summary>The released window: the first 12 of 50 steps as a fraction window.</summary>
    public static StepWindow DefaultWindow { get; } = StepWindow.Fractions(0, 12.0 / 50);

    public FlowMoOptimizer Optimizer { get; init; } = FlowMoOptimizer.AdamOneStep;

    /// <summary>Step size (Adam's lr, or the gradient-descent factor).</summary>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Gradient evaluations and latent updates per guided step (each costs a differentiated CFG forward and backward).</summary>
    public int Iterations { get; init; } = 1;

    /// <summary>
    /// After the update, let the loop recompute the velocity at the new latent (the slides' algorithm; one more forward
    /// per guided step). Off: the step uses the velocity computed at the latent before the last update (released code).
    /// </summary>
    public bool RecomputeAfterUpdate { get; init; } = true;

    /// <summary>
    /// During the differentiated call, turn on per-block gradient checkpointing on a model that has it
    /// (<see cref="FlowGuide.Models.Wan.WanTransformer3D.GradientCheckpointing"/>); restored afterwards.
    /// </summary>
    public bool GradientCheckpointing { get; init; } = true;

    /// <summary>Patch reduction of the loss: the maximum (paper, default) or the mean (diagnostic).</summary>
    public FlowMoReduction Reduction { get; init; } = FlowMoReduction.Max;

    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Throws an ArgumentException naming the first setting that is out of range.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Window, nameof(Window));
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentException($"FlowMoOptions: LearningRate must be positive and finite, got {LearningRate}.");
        if (Iterations < 1) throw new ArgumentException($"FlowMoOptions: Iterations must be at least 1, got {Iterations}.");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1))
            throw new ArgumentException($"FlowMoOptions: Adam betas must lie in [0, 1), got ({Beta1}, {Beta2}).");
        if (!(Epsilon >= 0) || double.IsInfinity(Epsilon)) throw new ArgumentException($"FlowMoOptions: Epsilon must be non-negative and finite, got {Epsilon}.");
        if (!Enum.IsDefined(Optimizer)) throw new ArgumentException($"FlowMoOptions: unknown optimizer {Optimizer}.");
    }
}
