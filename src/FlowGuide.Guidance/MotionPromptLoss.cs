using FlowGuide.Models;
using FlowGuide.Models.Flow;
using FlowGuide.Models.Text;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>One evaluation of MotionPrompt's objective, every term differentiable except the diagnostics.</summary>
/// <param name="Loss">Scalar <c>l1 * Disc + l2 * Tv + l3 * Reg</c>.</param>
/// <param name="Discriminator">Scalar: mean over the pairs of <c>log(1 - phi(flow))</c>.</param>
/// <param name="TotalVariation">Scalar: mean over the pairs of TV(flow).</param>
/// <param name="Regularization">Scalar: <c>|T - T0|^2</c> summed over every token and channel.</param>
/// <param name="RealProbability">Diagnostic: phi(flow) per pair.</param>
/// <param name="Flow">The flows [P, 2, H, W] the terms were computed from.</param>
public sealed record MotionPromptLossResult(Tensor Loss, Tensor Discriminator, Tensor TotalVariation, Tensor Regularization,
    float[] RealProbability, Tensor Flow);

/// <summary>
/// The pieces of MotionPrompt's loss: <c>L = l1 log(1 - phi(f)) + l2 TV(f) + l3 |T - T0|^2</c> for flows f of decoded frame
/// pairs, with the discriminator term written stably as <c>-softplus(logit)</c> (log(1 - sigmoid(x)) = -softplus(x)).
/// </summary>
public static class MotionPromptLoss
{
    /// <summary><c>softplus(x) = max(x, 0) + log(1 + exp(-|x|))</c>, elementwise and stable for large |x|.</summary>
    public static Tensor Softplus(Tensor x) => Ops.Add(Ops.Relu(x), Ops.Log(Ops.AddScalar(Ops.Exp(Ops.Neg(Ops.Abs(x))), 1f)));

    /// <summary>Mean over the batch of <c>log(1 - sigmoid(logit))</c> for discriminator logits [B]: minimising it pushes phi toward "real".</summary>
    public static Tensor DiscriminatorTerm(Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        return Ops.Neg(Ops.Mean(Softplus(logits)));
    }

    /// <summary>
    /// Mean over the batch of the total variation of flows [B, 2, H, W]: per flow, the absolute differences of vertical
    /// and horizontal neighbours over both channels, summed (<see cref="TvReduction.Sum"/>) or averaged over their count.
    /// </summary>
    public static Tensor TotalVariation(Tensor flow, TvReduction reduction = TvReduction.Sum)
    {
        ArgumentNullException.ThrowIfNull(flow);
        if (flow.Rank != 4) throw new ArgumentException($"MotionPromptLoss.TotalVariation: flow must be [B, C, H, W], got {flow.Shape}.", nameof(flow));
        int b = flow.Size(0), c = flow.Size(1), h = flow.Size(2), w = flow.Size(3);
        var terms = new List<Tensor>(2);
        if (h > 1) terms.Add(Ops.Sum(Ops.Abs(Ops.Sub(Ops.Narrow(flow, 2, 0, h - 1), Ops.Narrow(flow, 2, 1, h - 1)))));
        if (w > 1) terms.Add(Ops.Sum(Ops.Abs(Ops.Sub(Ops.Narrow(flow, 3, 0, w - 1), Ops.Narrow(flow, 3, 1, w - 1)))));
        if (terms.Count == 0) return Ops.MulScalar(Ops.Sum(flow), 0f);
        var total = terms.Count == 1 ? terms[0] : Ops.Add(terms[0], terms[1]);
        long count = (long)c * ((h > 1 ? (long)(h - 1) * w : 0) + (w > 1 ? (long)h * (w - 1) : 0));
        float scale = reduction == TvReduction.Mean ? 1f / (b * (float)count) : 1f / b;
        return Ops.MulScalar(total, scale);
    }

    /// <summary><c>|T - T0|^2</c> summed over every element.</summary>
    public static Tensor Regularization(Tensor tokens, Tensor initial)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(initial);
        if (tokens.Shape != initial.Shape)
            throw new ArgumentException($"MotionPromptLoss.Regularization: tokens {tokens.Shape} and initial tokens {initial.Shape} differ in shape.");
        return Ops.Sum(Ops.Square(Ops.Sub(tokens, initial)));
    }

    /// <summary>The three terms and their weighted sum for flows [P, 2, H, W] and tokens T (T0 the initial tokens).</summary>
    public static MotionPromptLossResult Combine(FlowDiscriminator discriminator, Tensor flow, Tensor tokens, Tensor initialTokens, MotionPromptOptions options)
    {
        ArgumentNullException.ThrowIfNull(discriminator);
        ArgumentNullException.ThrowIfNull(options);
        var logits = discriminator.Forward(flow);                       // [P]
        var disc = DiscriminatorTerm(logits);
        var tv = TotalVariation(flow, options.Tv);
        var reg = Regularization(tokens, initialTokens);
        var loss = Ops.Add(Ops.Add(Ops.MulScalar(disc, (float)options.DiscriminatorWeight), Ops.MulScalar(tv, (float)options.TvWeight)),
            Ops.MulScalar(reg, (float)options.RegularizationWeight));
        float[] p;
        using (GradMode.NoGrad()) p = Ops.Sigmoid(logits.Detach()).ToArray();
        return new MotionPromptLossResult(loss, disc, tv, reg, p, flow);
    }
}

/// <summary>
/// MotionPrompt's objective at one sampling step as a function of the learnable token embeddings T [1, n, E] alone:
/// prompt = text encoder(prompt token embeddings ++ T) → guided velocity v at the (fixed) latent → zhat0 = z_t - t v →
/// decode the chosen frame pairs only → flow per pair → <see cref="MotionPromptLoss.Combine"/>. The gradient reaches T
/// through the flow estimator, the decoder, the transformer and the text encoder; everything else is held fixed. With a
/// causal decoder, <see cref="MotionPromptOptions.DecoderHistoryGradient"/> decides whether it also flows through the
/// latent frames decoded before the pairs (see there).
/// </summary>
public sealed class MotionPromptObjective
{
    /// <param name="textEncoder">Encodes [1, m + n, E] token embeddings to the prompt [1, L, D].</param>
    /// <param name="promptTokens">The prompt's own token embeddings [1, m, E] (fixed; detached here).</param>
    /// <param name="velocity">The guided velocity at the step's latent for a prompt [1, L, D] (e.g. <c>p => ctx.Velocity(z, p)</c>).</param>
    /// <param name="latent">z_t [1, C, F', H', W'] (fixed).</param>
    /// <param name="sigma">The step's noise level t.</param>
    /// <param name="decoder">Decodes the predicted clean latent (only the prefix the pairs need when causal).</param>
    /// <param name="pairStarts">Frame f of each pair (f, f + 1).</param>
    /// <param name="flow">Flow estimator: (frames1 [P, 3, H, W], frames2) → [P, 2, H, W], differentiable.</param>
    /// <param name="discriminator">phi, frozen.</param>
    /// <param name="initialTokens">T0 [1, n, E].</param>
    /// <param name="options">Weights and the TV reduction.</param>
    public MotionPromptObjective(ITextEncoder textEncoder, Tensor promptTokens, Func<Tensor, Tensor> velocity, Tensor latent, double sigma,
        IVideoDecoder decoder, IReadOnlyList<int> pairStarts, Func<Tensor, Tensor, Tensor> flow, FlowDiscriminator discriminator,
        Tensor initialTokens, MotionPromptOptions options)
    {
        TextEncoder = textEncoder ?? throw new ArgumentNullException(nameof(textEncoder));
        PromptTokens = (promptTokens ?? throw new ArgumentNullException(nameof(promptTokens))).Detach();
        Velocity = velocity ?? throw new ArgumentNullException(nameof(velocity));
        Latent = (latent ?? throw new ArgumentNullException(nameof(latent))).Detach();
        Sigma = sigma;
        Decoder = decoder ?? throw new ArgumentNullException(nameof(decoder));
        PairStarts = pairStarts ?? throw new ArgumentNullException(nameof(pairStarts));
        if (pairStarts.Count == 0) throw new ArgumentException("MotionPromptObjective: no frame pairs.", nameof(pairStarts));
        Flow = flow ?? throw new ArgumentNullException(nameof(flow));
        Discriminator = discriminator ?? throw new ArgumentNullException(nameof(discriminator));
        InitialTokens = (initialTokens ?? throw new ArgumentNullException(nameof(initialTokens))).Detach();
        Options = options ?? throw new ArgumentNullException(nameof(options));
    }

    public ITextEncoder TextEncoder { get; }
    public Tensor PromptTokens { get; }
    public Func<Tensor, Tensor> Velocity { get; }
    public Tensor Latent { get; }
    public double Sigma { get; }
    public IVideoDecoder Decoder { get; }
    public IReadOnlyList<int> PairStarts { get; }
    public Func<Tensor, Tensor, Tensor> Flow { get; }
    public FlowDiscriminator Discriminator { get; }
    public Tensor InitialTokens { get; }
    public MotionPromptOptions Options { get; }

    /// <summary>The encoded prompt [1, L, D] with <paramref name="tokens"/> [1, n, E] appended to the prompt's tokens.</summary>
    public Tensor EncodePrompt(Tensor tokens) => TextEncoder.EncodeEmbeddings(Ops.Concat(new[] { PromptTokens, tokens }, 1)); // [1, m + n, E] → [1, L, D]

    /// <summary>The video frames the pairs use, in order f0, f0 + 1, f1, f1 + 1, ...</summary>
    public int[] Frames() => PairStarts.SelectMany(f => new[] { f, f + 1 }).ToArray();

    /// <summary>Evaluates the loss at <paramref name="tokens"/> [1, n, E]; records a graph when gradients are on and tokens require them.</summary>
    public MotionPromptLossResult Evaluate(Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return LossAt(PredictX0(tokens), tokens);
    }

    /// <summary>
    /// The loss at <paramref name="tokens"/> [1, n, E] and its gradient with respect to them, back-propagated in two
    /// stages split at the predicted clean latent x0: first from the loss to x0 (and to T through |T - T0|^2), after
    /// which the decode, flow and discriminator graph and its gradients are released, then from x0 through the model
    /// and the text encoder to T. The same gradient as <c>Autograd.Grad(Evaluate(T).Loss, T)</c> (the chain rule cut at
    /// x0's single use), without the decoder's and flow's activations alive during the transformer's backward pass —
    /// which lowers the peak by their size. The returned tensors carry no graph.
    /// </summary>
    public (MotionPromptLossResult Result, Tensor Gradient) EvaluateWithGradient(Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        using var grad = GradMode.EnableGrad();
        var t = tokens.DetachedLeaf();
        var x0 = PredictX0(t);                                                            // [1, C, F', H', W'], taped to T
        MotionPromptLossResult r;
        Tensor gX0, gT;
        using (var scope = new TensorScope())
        {
            // 1. loss -> x0 (and -> T through the regulariser); everything this stage makes goes when the scope closes
            var x0Leaf = x0.DetachedLeaf();
            var full = LossAt(x0Leaf, t);
            var g = Autograd.Grad(full.Loss, new[] { x0Leaf, t });
            r = full with
            {
                Loss = full.Loss.Detach(), Discriminator = full.Discriminator.Detach(), TotalVariation = full.TotalVariation.Detach(),
                Regularization = full.Regularization.Detach(), Flow = full.Flow.Detach(),
            };
            (gX0, gT) = (g[0], g[1]);
            scope.Keep(gX0, gT, r.Loss, r.Discriminator, r.TotalVariation, r.Regularization, r.Flow);
        }
        // 2. x0 -> T through the velocity model and the text encoder
        if (!x0.RequiresGrad) return (r, gT);                                             // the velocity ignores the prompt
        var gModel = Autograd.Grad(x0, new[] { t }, gX0)[0];
        using (GradMode.NoGrad()) return (r, Ops.Add(gT, gModel));
    }

    /// <summary>zhat0 = z_t - t v(prompt(T)) [1, C, F', H', W'].</summary>
    private Tensor PredictX0(Tensor tokens)
    {
        // 1. prompt with the learnable tokens, guided velocity, predicted clean latent
        var prompt = EncodePrompt(tokens);                                                // [1, L, D]
        var v = Velocity(prompt);                                                         // [1, C, F', H', W']
        return Ops.Sub(Latent, Ops.MulScalar(v, (float)Sigma));
    }

    /// <summary>The loss for a predicted clean latent <paramref name="x0"/> and the tokens (for the regulariser).</summary>
    private MotionPromptLossResult LossAt(Tensor x0, Tensor tokens)
    {
        // 2. decode only the frames of the pairs
        int p = PairStarts.Count;
        var video = VideoFrameDecoding.DecodeFrames(Decoder, x0, Frames(), Options.DecoderHistoryGradient); // [1, 3, 2P, H, W]
        int h = video.Size(3), w = video.Size(4);
        var pairs = Ops.Reshape(Ops.Permute(video, 0, 2, 1, 3, 4), p, 2, 3, h, w);      // [P, 2, 3, H, W]
        var first = Ops.Reshape(Ops.Narrow(pairs, 1, 0, 1), p, 3, h, w);                // [P, 3, H, W]
        var second = Ops.Reshape(Ops.Narrow(pairs, 1, 1, 1), p, 3, h, w);               // [P, 3, H, W]
        // 3. flow per pair, then the three terms
        var flow = Flow(first, second);                                                   // [P, 2, H, W]
        return MotionPromptLoss.Combine(Discriminator, flow, tokens, InitialTokens, Options);
    }
}
