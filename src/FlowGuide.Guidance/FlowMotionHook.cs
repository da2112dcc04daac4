using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>One FlowMotion iteration as it happened: the loss at the latent before that iteration's Adam update.</summary>
/// <param name="Step">Sampling step index.</param>
/// <param name="Iteration">Iteration within the step (0-based).</param>
/// <param name="Sigma">Noise level t of the step.</param>
/// <param name="LatentAlignment">L_LA, alpha included.</param>
/// <param name="DifferenceAlignment">L_DA, beta included (0 with difference alignment off).</param>
/// <param name="Regularized">Whether velocity regularization was applied (off at the run's first step, where there is no path yet, and in the w/o-VR ablation).</param>
public sealed record FlowMotionStepRecord(int Step, int Iteration, double Sigma, double LatentAlignment, double DifferenceAlignment, bool Regularized)
{
    public double Total => LatentAlignment + DifferenceAlignment;
}

/// <summary>
/// FlowMotion (training-free motion transfer from a source video, methods.md section 2): on each step in the window,
/// align the target's latent prediction <c>r_tgt = z_t - t v_reg</c> with the source motion representation
/// <c>r_src</c> under <see cref="FlowMotionLoss"/> and move the latent with a fresh Adam for
/// <see cref="FlowMotionOptions.Iterations"/> iterations; the loop then steps from the moved latent with the
/// unregularized CFG velocity it computes there.
/// </summary>
/// <remarks>
/// <para>No backward pass through the model: <c>v</c> is the run's CFG velocity computed without a gradient, <c>v_reg</c>
/// (<see cref="VelocityRegularization"/>, from the running average velocity since the run's initial latent) is a
/// constant, so <c>d r_tgt / d z_t = I</c> and the latent gradient is the closed form of
/// <see cref="FlowMotionLoss.Evaluate"/> (equal to the engine's autograd of <see cref="FlowMotionLoss.Compute"/>).
/// Each iteration recomputes v and the average <c>(z - z_T) / (t - t_0)</c> at the current iterate z. At the run's first
/// step (t = t_0, z = z_T) there is no average and v_reg = v.</para>
/// <para>Cost per guided step: <see cref="FlowMotionOptions.Iterations"/> CFG forwards (the prompt/negative pair, one
/// batched call when the pipeline batches CFG) plus, in <see cref="FlowMotionMode.LatentPrediction"/> mode, one batch-1
/// forward for the source: the released "" prompt with "" negative at CFG 1.5 is numerically the plain "" velocity, so it
/// runs once at scale 1, not as two passes. The source representation depends only on the step's noise level, never
/// on the target latent, so it is computed once per step (and once per run, i.e. never, in
/// <see cref="FlowMotionMode.CleanLatent"/> mode). Fresh source noise is drawn from the run's <see cref="StepContext.Rng"/>,
/// so one seed fixes the result.</para>
/// <para>For an evaluation registry or any caller: <see cref="Create"/>(options, sourceLatent, emptyPromptEmbeddings)
/// with the source latent from <see cref="SourceVideo.Prepare"/> (or any model-space latent of the run's latent shape,
/// batch 1), then pass the hook to <see cref="TextToVideoPipeline.Generate"/>. The hook keeps no state between runs
/// except <see cref="History"/> (call <c>History.Clear()</c> to reuse it).</para>
/// </remarks>
public sealed class FlowMotionHook : GuidanceHook
{
    private readonly List<FlowMotionStepRecord> _history = new();
    // plain arrays, not tensors: tensors created here would belong to whatever TensorScope the caller has open
    private readonly float[] _source;
    private readonly int[] _sourceShape;
    private float[]? _emptyPrompt;
    private int[]? _emptyPromptShape;

    /// <summary>See <see cref="Create"/>.</summary>
    public FlowMotionHook(FlowMotionOptions? options, Tensor sourceLatent, Tensor? emptyPromptEmbeddings = null)
        : base(Checked(options).Window)
    {
        ArgumentNullException.ThrowIfNull(sourceLatent);
        if (sourceLatent.Rank != 5 || sourceLatent.Size(0) != 1)
            throw new ArgumentException($"FlowMotionHook: the source latent must be one video [1, C, F, H, W], got {sourceLatent.Shape}.", nameof(sourceLatent));
        if (emptyPromptEmbeddings is not null && (emptyPromptEmbeddings.Rank != 3 || emptyPromptEmbeddings.Size(0) != 1))
            throw new ArgumentException($"FlowMotionHook: the empty-prompt embeddings must be [1, L, D], got {emptyPromptEmbeddings.Shape}.", nameof(emptyPromptEmbeddings));
        Options = options ?? new FlowMotionOptions();
        _source = sourceLatent.ToArray();
        _sourceShape = sourceLatent.Shape.ToArray();
        _emptyPrompt = emptyPromptEmbeddings?.ToArray();
        _emptyPromptShape = emptyPromptEmbeddings?.Shape.ToArray();
    }

    /// <summary>
    /// The hook for a source latent <paramref name="sourceLatent"/> [1, C, F, H, W] in the model's latent space (the
    /// VAE's normalised posterior mean of the prepared source video; it must match the run's latent shape) and the
    /// encoded empty prompt "" [1, L, D] for the source velocity. When <paramref name="emptyPromptEmbeddings"/> is null the
    /// hook encodes "" with the pipeline's text encoder on its first step (an error without one); clean-latent mode never
    /// needs it. <paramref name="options"/> null = the released defaults. Throws ArgumentException for invalid options or shapes.
    /// </summary>
    public static FlowMotionHook Create(FlowMotionOptions? options, Tensor sourceLatent, Tensor? emptyPromptEmbeddings = null) =>
        new(options, sourceLatent, emptyPromptEmbeddings);

    public FlowMotionOptions Options { get; }

    /// <summary>Shape of the clean source latent x_src, [1, C, F, H, W].</summary>
    public IReadOnlyList<int> SourceShape => _sourceShape;

    /// <summary>One record per guided iteration, in order.</summary>
    public List<FlowMotionStepRecord> History => _history;

    private static FlowMotionOptions Checked(FlowMotionOptions? options)
    {
        var o = options ?? new FlowMotionOptions();
        o.Validate();
        return o;
    }

    public override LatentUpdate? BeforeModel(StepContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = Options;
        var latent = context.Latent;
        if (latent.Rank != 5 || !latent.Shape.ToArray()[1..].SequenceEqual(_sourceShape[1..]))
            throw new InvalidOperationException($"FlowMotionHook: the source latent [{string.Join(", ", _sourceShape)}] does not match the run's latent {latent.Shape} (prepare the source at the run's frame count and size).");
        double t = context.Sigma, t0 = context.Schedule.Sigmas[0];
        bool regularize = o.VelocityRegularization && t != t0; // at the first step z_t = z_T: no average yet, v_reg = v

        using var noGrad = GradMode.NoGrad();
        // 1. the source motion representation for this noise level (independent of the target latent)
        var source = SourceRepresentation(context, latent.Size(0));

        // 2. a fresh Adam on a private copy of the latent; v without gradient, v_reg and r_tgt constants but for z
        var z = latent.Detach().Clone();
        var adam = new LatentAdam(z.Numel, o.LearningRate, o.Beta1, o.Beta2, o.AdamEpsilon);
        for (int it = 0; it < o.Iterations; it++)
        {
            var v = context.Velocity(z);
            var vReg = v;
            if (regularize)
            {
                var average = VelocityRegularization.AverageVelocity(z, context.InitialLatent, t, t0);
                vReg = VelocityRegularization.Apply(v, average, o.Gamma, o.ProjectionEpsilon);
                average.Dispose();
            }
            var target = Ops.Sub(z, Ops.MulScalar(vReg, (float)t)); // r_tgt = z_t - t v_reg
            // 3. loss and its closed-form latent gradient (d r_tgt / d z_t = I), then one Adam step
            var loss = FlowMotionLoss.Evaluate(source, target, o.Alpha, o.Beta, o.DifferenceAlignment);
            _history.Add(new FlowMotionStepRecord(context.Step, it, t, loss.LatentAlignment, loss.DifferenceAlignment, regularize));
            adam.Step(z.Span, loss.Gradient.Span);
            loss.Gradient.Dispose();
            target.Dispose();
            if (!ReferenceEquals(vReg, v)) vReg.Dispose();
            v.Dispose();
        }
        return new LatentUpdate(z);
    }

    /// <summary>r_src for this step, [B, C, F, H, W]: x_src, or the source's empty-prompt latent prediction at t.</summary>
    private Tensor SourceRepresentation(StepContext context, int batch)
    {
        var r = Tensor.FromArray(_source, _sourceShape);
        if (Options.Mode == FlowMotionMode.LatentPrediction)
        {
            double t = context.Sigma;
            var empty = EmptyPrompt(context);
            var noise = Tensor.Randn(context.Rng, _sourceShape);
            var noised = Ops.Add(Ops.MulScalar(r, (float)(1 - t)), Ops.MulScalar(noise, (float)t)); // s_t = (1 - t) x_src + t n
            var v = context.Velocity(noised, empty, empty, 1f);                                                 // one pass: "" at scale 1
            r = Ops.Sub(noised, Ops.MulScalar(v, (float)t));                                                     // s_t - t v_src
        }
        return batch == 1 ? r : Ops.Expand(r, batch, r.Size(1), r.Size(2), r.Size(3), r.Size(4)).Clone();
    }

    private Tensor EmptyPrompt(StepContext context)
    {
        if (_emptyPrompt is null || _emptyPromptShape is null)
        {
            var encoder = context.TextEncoder ?? throw new InvalidOperationException(
                "FlowMotionHook: latent-prediction mode needs the empty prompt's embeddings; pass them to FlowMotionHook.Create or run a pipeline with a text encoder.");
            var e = encoder.Encode(""); // once per hook: kept as an array
            _emptyPrompt = e.ToArray();
            _emptyPromptShape = e.Shape.ToArray();
        }
        return Tensor.FromArray(_emptyPrompt, _emptyPromptShape);
    }
}
