using System.Text.Json;
using FlowGuide.Models.Flow;
using FlowGuide.Models.Text;
using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance;

/// <summary>One MotionPrompt iteration as it happened: the objective at the tokens before that iteration's update.</summary>
/// <param name="Step">Sampling step index.</param>
/// <param name="Iteration">Iteration within the step (0-based).</param>
/// <param name="Loss">The total loss.</param>
/// <param name="Discriminator">Mean log(1 - phi(flow)).</param>
/// <param name="TotalVariation">Mean TV of the flows.</param>
/// <param name="Regularization">|T - T0|^2.</param>
/// <param name="RealProbability">Mean phi(flow) over the pairs.</param>
/// <param name="PairStarts">Frame f of each scored pair (f, f + 1).</param>
/// <param name="CosineToInitial">Cosine similarity of the tokens (flattened) to their initial embedding (the paper's Fig. 4).</param>
public sealed record MotionPromptStepRecord(int Step, int Iteration, double Loss, double Discriminator, double TotalVariation,
    double Regularization, double RealProbability, int[] PairStarts, double CosineToInitial);

/// <summary>
/// MotionPrompt (optical-flow guided prompt optimisation): n learnable token embeddings T, initialised from a word's
/// embedding, are appended to the prompt. On each step in the window the hook runs K iterations of: the guided velocity
/// with the current prompt, the predicted clean latent, a decode of a few random frame pairs only, their flows, the loss
/// <c>l1 log(1 - phi(flow)) + l2 TV(flow) + l3 |T - T0|^2</c>, and an optimiser step on T alone (model, decoder, flow
/// estimator, discriminator and the prompt's own tokens are fixed). It then sets the step's
/// <see cref="StepContext.PromptEmbeddings"/> to the optimised prompt, so the loop's model call — and any later hook,
/// such as FlowMo — steps with it; steps outside the window use the original prompt. T carries from step to step.
/// </summary>
/// <remarks>
/// Cost per guided step: one untaped unconditional forward (shared by the K iterations: the unconditional velocity does
/// not depend on T), then K x (one differentiated conditional forward and its backward — with per-block checkpointing a
/// recomputed forward too —, a differentiated decode of the latent frames the pairs need, the unrolled flow and the
/// discriminator), plus the loop's own CFG forward. The prompt text comes
/// from the constructor or, when null there, from <see cref="StepContext.Prompt"/>; the hook checks that it encodes to the
/// run's prompt. Random pair choices come from the run's <see cref="StepContext.Rng"/>, so a seed fixes them.
/// State (T, the optimiser) resets whenever a run starts again (a step index not after the previous one), so one hook
/// serves run after run — with different prompts when it takes them from the context — but not two runs at once.
/// <see cref="History"/> accumulates over runs.
/// </remarks>
public sealed class MotionPromptHook : GuidanceHook
{
    private readonly List<MotionPromptStepRecord> _history = new();
    private readonly Func<Tensor, Tensor, Tensor> _flow;
    private RunState? _run;
    private int _lastStep = int.MaxValue;

    /// <param name="discriminator">The trained flow discriminator (frozen here).</param>
    /// <param name="options">Hyper-parameters (defaults: the paper's).</param>
    /// <param name="prompt">The run's prompt text; null to take it from each run's <see cref="StepContext.Prompt"/>.</param>
    /// <param name="flow">Flow estimator (frames1, frames2 [P, 3, H, W] in [-1, 1]) → [P, 2, H, W]; null: <see cref="ClassicalFlow"/>
    /// with <see cref="MotionPromptOptions.Flow"/>, else the discriminator's training settings, else the defaults.</param>
    public MotionPromptHook(FlowDiscriminator discriminator, MotionPromptOptions? options = null, string? prompt = null,
        Func<Tensor, Tensor, Tensor>? flow = null) : base(Checked(options).Window)
    {
        ArgumentNullException.ThrowIfNull(discriminator);
        Discriminator = discriminator;
        Discriminator.Freeze();
        Discriminator.Eval();
        Options = options ?? new MotionPromptOptions();
        Prompt = prompt;
        FlowOptions = Options.Flow ?? TrainingFlowOptions(discriminator) ?? ClassicalFlowOptions.Default;
        if (flow is null)
        {
            var estimator = new ClassicalFlow(Options.CheckpointFlow ? FlowOptions with { CheckpointWarps = true } : FlowOptions);
            flow = estimator.Estimate;
        }
        _flow = flow;
    }

    public FlowDiscriminator Discriminator { get; }
    public MotionPromptOptions Options { get; }
    /// <summary>The prompt given at construction (null: each run's own).</summary>
    public string? Prompt { get; }
    /// <summary>The ClassicalFlow settings used when no estimator was passed in.</summary>
    public ClassicalFlowOptions FlowOptions { get; }

    /// <summary>One record per iteration, in order.</summary>
    public List<MotionPromptStepRecord> History => _history;

    /// <summary>The word the tokens of the latest run were initialised from (<see cref="MotionPromptOptions.InitWord"/> or its fallback).</summary>
    public string? InitWordUsed => _run?.InitWord;

    /// <summary>The latest run's current token embeddings [1, n, E] (a copy), or null before the first guided step.</summary>
    public Tensor? Tokens => _run?.Tokens.Clone();

    private static MotionPromptOptions Checked(MotionPromptOptions? options)
    {
        var o = options ?? new MotionPromptOptions();
        o.Validate();
        return o;
    }

    /// <summary>The ClassicalFlow settings recorded in the discriminator's "training" info ("flow_options"), if any.</summary>
    public static ClassicalFlowOptions? TrainingFlowOptions(FlowDiscriminator discriminator)
    {
        ArgumentNullException.ThrowIfNull(discriminator);
        if (discriminator.TrainingInfo?["flow_options"] is not { } node) return null;
        try
        {
            var o = node.Deserialize<ClassicalFlowOptions>();
            o?.Validate();
            return o;
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"MotionPromptHook: the discriminator's training info has unusable flow_options ({ex.Message}).", ex);
        }
    }

    public override LatentUpdate? BeforeModel(StepContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var o = Options;
        var text = context.TextEncoder ?? throw new InvalidOperationException("MotionPromptHook: the pipeline has no text encoder; MotionPrompt re-encodes the prompt with its learnable tokens.");
        var decoder = context.Decoder ?? throw new InvalidOperationException("MotionPromptHook: the pipeline has no decoder; MotionPrompt decodes predicted frames.");
        if (context.Step <= _lastStep || _run is null) _run = StartRun(context, text);
        _lastStep = context.Step;
        var run = _run;

        int frames = 1 + (context.Latent.Size(2) - 1) * decoder.TemporalFactor;
        if (o.FramePairs > frames - 1)
            throw new InvalidOperationException($"MotionPromptHook: {o.FramePairs} frame pairs asked for, but the video has only {frames} frames ({frames - 1} pairs).");

        var wan = o.GradientCheckpointing ? context.Model as WanTransformer3D : null;
        bool previousCheckpointing = wan?.GradientCheckpointing ?? false;
        var latent = context.Latent.Detach();
        // the unconditional velocity does not depend on T: one untaped pass serves all K iterations
        var velocity = new SplitCfg(context, latent);
        try
        {
            if (wan is not null) wan.GradientCheckpointing = true;
            for (int it = 0; it < o.Iterations; it++)
            {
                // each iteration's graph goes back to the pool when it ends (T is updated in place and outlives it)
                using var scope = new TensorScope();
                // 1. a random subset of adjacent frame pairs (without repeats), from the run's generator
                var starts = DrawPairs(context.Rng, frames - 1, o.FramePairs);
                var objective = new MotionPromptObjective(text, run.PromptTokens, velocity.Compute, latent, context.Sigma,
                    decoder, starts, _flow, Discriminator, run.Initial, o);
                // 2. loss and its gradient with respect to the tokens only
                Tensor grad;
                using (GradMode.EnableGrad())
                {
                    var t = run.Tokens.DetachedLeaf();
                    var r = objective.Evaluate(t);
                    _history.Add(new MotionPromptStepRecord(context.Step, it, r.Loss.Item(), r.Discriminator.Item(), r.TotalVariation.Item(),
                        r.Regularization.Item(), r.RealProbability.Average(), starts, Cosine(run.Tokens.Span, run.Initial.Span)));
                    grad = Autograd.Grad(r.Loss, new[] { t })[0];
                }
                // 3. optimiser step on the tokens
                run.Update(grad.Span, o);
            }
        }
        finally
        {
            if (wan is not null) wan.GradientCheckpointing = previousCheckpointing;
        }

        // 4. the loop (and later hooks) step with the optimised prompt
        using (GradMode.NoGrad())
            context.PromptEmbeddings = text.EncodeEmbeddings(Ops.Concat(new[] { run.PromptTokens, run.Tokens }, 1));
        return null;
    }

    /// <summary>
    /// The guided velocity <c>v_u + g (v_c - v_u)</c> at one latent and step with the unconditional half computed once,
    /// untaped (it does not depend on the prompt), and only the conditional pass run per prompt: the same values as
    /// <see cref="StepContext.Velocity(Tensor, Tensor, Tensor?, float?)"/> (up to the rounding of a batch of one against
    /// the loop's batch of two), and the same gradient with respect to the prompt (<c>g dv_c/dprompt</c>), for half the
    /// model work of a taped CFG pair. The loop still makes its own (batched) call with the optimised prompt.
    /// </summary>
    private sealed class SplitCfg
    {
        private readonly StepContext _context;
        private readonly Tensor _latent;
        private readonly Tensor? _uncond;
        private readonly float _scale;

        public SplitCfg(StepContext context, Tensor latent)
        {
            _context = context;
            _latent = latent;
            _scale = context.GuidanceScale;
            if (_scale == 1f) return;
            using (GradMode.NoGrad()) _uncond = context.Velocity(latent, context.NegativeEmbeddings, guidanceScale: 1f); // [1, C, F', H', W']
        }

        /// <summary>The guided velocity for the encoded prompt [1, L, D]; taped when gradients are on and the prompt requires one.</summary>
        public Tensor Compute(Tensor prompt)
        {
            var cond = _context.Velocity(_latent, prompt, guidanceScale: 1f);            // [1, C, F', H', W']
            if (_uncond is null) return cond;
            return Ops.Add(_uncond, Ops.MulScalar(Ops.Sub(cond, _uncond), _scale));        // CfgVelocity's order of operations
        }
    }

    private RunState StartRun(StepContext context, ITextEncoder text)
    {
        var prompt = Prompt ?? context.Prompt
            ?? throw new InvalidOperationException("MotionPromptHook: the run has no prompt text (it was started from embeddings); pass the prompt to the hook's constructor.");
        var ids = text.Tokenize(prompt);
        if (ids.Length + Options.TokenCount > text.MaxLength)
            throw new ArgumentException($"MotionPromptHook: the prompt has {ids.Length} tokens; with {Options.TokenCount} learnable token(s) that exceeds the text encoder's {text.MaxLength}.");
        using var _ = GradMode.NoGrad();
        var promptTokens = context.Keep(text.Embed(ids));                                  // [1, m, E], outlives the step
        // the hook's prompt must be the run's: same encoding as the prompt the loop was given
        var encoded = text.EncodeEmbeddings(promptTokens);
        var run = context.RunPromptEmbeddings;
        if (encoded.Shape != run.Shape || MaxAbsDiff(encoded.Span, run.Span) > 1e-4f)
            throw new InvalidOperationException($"MotionPromptHook: the prompt \"{prompt}\" does not encode to the run's prompt embeddings; give the hook the prompt the run samples with.");

        var (word, initial) = InitialEmbedding(text);                                      // [1, E]
        int n = Options.TokenCount, e = text.EmbeddingDim;
        var t0 = Tensor.Empty(1, n, e);
        for (int i = 0; i < n; i++) initial.Span.CopyTo(t0.Span.Slice(i * e, e));
        return new RunState(promptTokens, context.Keep(t0), context.Keep(t0), word);
    }

    /// <summary>The embedding of the init word (mean over its sub-tokens if it splits), or the fallback's when the vocabulary lacks it.</summary>
    private (string Word, Tensor Embedding) InitialEmbedding(ITextEncoder text)
    {
        string word = Options.InitWord;
        int[]? ids = TryTokenize(text, word);
        if (ids is null && Options.FallbackInitWord is { } fallback)
        {
            ids = TryTokenize(text, fallback)
                ?? throw new ArgumentException($"MotionPromptHook: neither the init word '{word}' nor the fallback '{fallback}' is in the text encoder's vocabulary.");
            word = fallback;
        }
        if (ids is null)
            throw new ArgumentException($"MotionPromptHook: the init word '{word}' is not in the text encoder's vocabulary; choose another InitWord or set a FallbackInitWord.");
        if (ids.Length == 0) throw new ArgumentException($"MotionPromptHook: the init word '{word}' tokenizes to nothing.");
        var emb = Ops.Mean(text.Embed(ids), 1);                                            // [1, E]
        return (word, emb.Clone());
    }

    private static int[]? TryTokenize(ITextEncoder text, string word)
    {
        try { return text.Tokenize(word); }
        catch (ArgumentException) { return null; }
    }

    private static int[] DrawPairs(Rng rng, int available, int count)
    {
        var pool = Enumerable.Range(0, available).ToList();
        var starts = new int[count];
        for (int i = 0; i < count; i++)
        {
            int k = rng.NextInt(pool.Count);
            starts[i] = pool[k];
            pool.RemoveAt(k);
        }
        return starts;
    }

    private static float MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.Length; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
        return aa > 0 && bb > 0 ? ab / Math.Sqrt(aa * bb) : 0;
    }

    /// <summary>One run's prompt tokens, the learnable tokens T and T0, and the optimiser moments.</summary>
    /// <remarks>Its tensors are kept past the step scope (<see cref="StepContext.Keep"/>); <see cref="Tokens"/> is updated in place.</remarks>
    private sealed class RunState(Tensor promptTokens, Tensor initial, Tensor tokens, string initWord)
    {
        private double[]? _m, _v;
        private int _t;

        public Tensor PromptTokens { get; } = promptTokens;
        public Tensor Initial { get; } = initial;
        public Tensor Tokens { get; } = tokens;
        public string InitWord { get; } = initWord;

        public void Update(ReadOnlySpan<float> g, MotionPromptOptions o)
        {
            var t = Tokens.Span;
            if (o.Optimizer == MotionPromptOptimizer.GradientDescent)
            {
                for (int i = 0; i < t.Length; i++) t[i] = (float)(t[i] - o.LearningRate * g[i]);
                return;
            }
            // PyTorch's Adam (no weight decay, no amsgrad)
            _m ??= new double[t.Length];
            _v ??= new double[t.Length];
            _t++;
            double b1 = o.Beta1, b2 = o.Beta2;
            double bias1 = 1 - Math.Pow(b1, _t), sqrtBias2 = Math.Sqrt(1 - Math.Pow(b2, _t));
            for (int i = 0; i < t.Length; i++)
            {
                double gi = g[i];
                _m[i] = b1 * _m[i] + (1 - b1) * gi;
                _v[i] = b2 * _v[i] + (1 - b2) * gi * gi;
                t[i] = (float)(t[i] - o.LearningRate / bias1 * _m[i] / (Math.Sqrt(_v[i]) / sqrtBias2 + o.Epsilon));
            }
        }
    }
}
