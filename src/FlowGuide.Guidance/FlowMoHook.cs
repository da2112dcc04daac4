using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>One FlowMo iteration as it happened: the loss at the latent before that iteration's update.</summary>
/// <param name="Step">Sampling step index.</param>
/// <param name="Iteration">Iteration within the step (0-based).</param>
/// <param name="Loss">FlowMo loss of the guided velocity at the latent the gradient was taken at.</param>
/// <param name="ArgMax">The patch (h, w) each video's maximum picked.</param>
public sealed record FlowMoStepRecord(int Step, int Iteration, double Loss, (int H, int W)[] ArgMax);

/// <summary>
/// FlowMo (variance-based motion-coherence guidance, training-free): on each step in the window, differentiate
/// <see cref="FlowMoLoss"/> of the classifier-free-guided velocity with respect to the latent — through the model, both
/// CFG passes, weights frozen — and move the latent one optimizer step down that gradient; then the loop steps from the
/// new latent (with a recomputed velocity, or with the pre-update one when
/// <see cref="FlowMoOptions.RecomputeAfterUpdate"/> is off).
/// </summary>
/// <remarks>
/// Cost per guided step and iteration: one CFG forward with recording plus its backward (with checkpointing, each block's
/// forward runs twice), plus one plain forward when recomputing. The model's weights should be frozen (RequiresGrad off);
/// <see cref="Autograd.Grad"/> never writes weight gradients either way. <see cref="History"/> accumulates over runs
/// (call <c>History.Clear()</c> between them if needed).
/// </remarks>
public sealed class FlowMoHook : GuidanceHook
{
    private readonly List<FlowMoStepRecord> _history = new();

    public FlowMoHook(FlowMoOptions? options = null) : base(Checked(options).Window)
    {
        Options = options ?? new FlowMoOptions();
    }

    public FlowMoOptions Options { get; }

    /// <summary>One record per guided iteration, in order.</summary>
    public List<FlowMoStepRecord> History => _history;

    private static FlowMoOptions Checked(FlowMoOptions? options)
    {
        var o = options ?? new FlowMoOptions();
        o.Validate();
        return o;
    }

    public override LatentUpdate? BeforeModel(StepContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = Options;
        var latent = context.Latent.Detach().Clone(); // the working latent; the context's stays untouched
        Tensor? velocityBefore = null;
        var adam = o.Optimizer == FlowMoOptimizer.AdamOneStep ? new AdamState(latent.Numel) : null; // fresh per guided step

        var wan = o.GradientCheckpointing ? context.Model as WanTransformer3D : null;
        bool previousCheckpointing = wan?.GradientCheckpointing ?? false;
        try
        {
            if (wan is not null) wan.GradientCheckpointing = true;
            for (int it = 0; it < o.Iterations; it++)
            {
                Tensor grad;
                using (GradMode.EnableGrad())
                {
                    // 1. z' = z (a leaf), v = CFG velocity through the model, L = FlowMo loss
                    var z = latent.DetachedLeaf();
                    var v = context.Velocity(z);
                    var r = FlowMoLoss.Evaluate(v, o.Reduction);
                    _history.Add(new FlowMoStepRecord(context.Step, it, r.Loss.Item(), r.ArgMax));
                    // 2. dL/dz'
                    grad = Autograd.Grad(r.Loss, new[] { z })[0];
                    velocityBefore = v.Detach();
                }
                // 3. optimizer step on the latent
                using (GradMode.NoGrad())
                {
                    var next = latent.Clone();
                    if (adam is not null) adam.Step(next.Span, grad.Span, o);
                    else GradientStep(next.Span, grad.Span, (float)o.LearningRate);
                    latent = next;
                }
            }
        }
        finally
        {
            if (wan is not null) wan.GradientCheckpointing = previousCheckpointing;
        }
        return new LatentUpdate(latent, o.RecomputeAfterUpdate ? null : velocityBefore);
    }

    private static void GradientStep(Span<float> z, ReadOnlySpan<float> g, float lr)
    {
        for (int i = 0; i < z.Length; i++) z[i] -= lr * g[i];
    }

    /// <summary>PyTorch's Adam (no weight decay, no amsgrad) on one flat parameter.</summary>
    private sealed class AdamState(int count)
    {
        private readonly double[] _m = new double[count];
        private readonly double[] _v = new double[count];
        private int _t;

        public void Step(Span<float> z, ReadOnlySpan<float> g, FlowMoOptions o)
        {
            _t++;
            double b1 = o.Beta1, b2 = o.Beta2;
            double bias1 = 1 - Math.Pow(b1, _t), sqrtBias2 = Math.Sqrt(1 - Math.Pow(b2, _t));
            double stepSize = o.LearningRate / bias1;
            for (int i = 0; i < z.Length; i++)
            {
                double gi = g[i];
                _m[i] = b1 * _m[i] + (1 - b1) * gi;
                _v[i] = b2 * _v[i] + (1 - b2) * gi * gi;
                double denom = Math.Sqrt(_v[i]) / sqrtBias2 + o.Epsilon;
                z[i] = (float)(z[i] - stepSize * _m[i] / denom);
            }
        }
    }
}
