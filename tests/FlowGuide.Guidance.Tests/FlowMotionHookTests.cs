using FlowGuide.Models;
using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>Passes calls to a model and records each call's batch and whether anything could be differentiated through it.</summary>
internal sealed class CountingModel(IVelocityModel inner) : IVelocityModel
{
    public List<(int Batch, bool Differentiable)> Calls { get; } = new();

    public Tensor Forward(Tensor latent, Tensor timestep, Tensor context)
    {
        var v = inner.Forward(latent, timestep, context);
        Calls.Add((latent.Size(0), latent.RequiresGrad || context.RequiresGrad || v.GradFn is not null));
        return v;
    }
}

/// <summary>FlowMotion through the real pipeline with a Tiny Wan2.1 transformer (frozen) on a [1, 4, 4, 4, 4] latent.</summary>
public class FlowMotionHookTests
{
    private static readonly int[] LatentShape = { 1, 4, 4, 4, 4 };

    private sealed record Setup(TextToVideoPipeline Pipeline, CountingModel Model, Tensor Cond, Tensor Uncond, Tensor Empty, Tensor Source);

    private static Setup Make()
    {
        var wan = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(21));
        wan.Freeze();
        var model = new CountingModel(wan);
        return new Setup(new TextToVideoPipeline(model, null, new UnusedDecoder()), model,
            Tensor.Randn(new Rng(31), 1, 5, 16), Tensor.Randn(new Rng(32), 1, 5, 16), Tensor.Randn(new Rng(33), 1, 5, 16),
            Tensor.Randn(new Rng(34), LatentShape));
    }

    private static GenerationOptions Options(int steps = 4, ulong seed = 3) =>
        new() { Steps = steps, Sampler = SamplerKind.Euler, GuidanceScale = 5f, Seed = seed };

    private static Tensor Run(Setup s, GenerationOptions o, params IGuidanceHook[] hooks)
    {
        var rng = new Rng(o.Seed);
        var noise = Tensor.Randn(rng, LatentShape);
        return s.Pipeline.Denoise(noise, s.Cond, s.Uncond, o, rng, hooks);
    }

    private static FlowMotionOptions Guided(StepWindow window, FlowMotionMode mode = FlowMotionMode.LatentPrediction) =>
        new() { Window = window, Mode = mode };

    [Theory]
    [InlineData(FlowMotionMode.LatentPrediction, 12)] // 4 loop calls + 2 guided steps x (1 source + 3 iterations)
    [InlineData(FlowMotionMode.CleanLatent, 10)]      // 4 loop calls + 2 guided steps x 3 iterations
    public void NoModelCallIsDifferentiatedAndTheEmptyPromptIsOnePass(FlowMotionMode mode, int calls)
    {
        var s = Make();
        Run(s, Options(), FlowMotionHook.Create(Guided(StepWindow.Steps(0, 2), mode), s.Source, s.Empty));
        Assert.Equal(calls, s.Model.Calls.Count);
        Assert.All(s.Model.Calls, c => Assert.False(c.Differentiable));
        // the source's "" velocity (CFG 1.5 on "" and "") runs as one batch-1 pass; everything else is the batched CFG pair
        Assert.Equal(mode == FlowMotionMode.LatentPrediction ? 2 : 0, s.Model.Calls.Count(c => c.Batch == 1));
        Assert.All(s.Model.Calls.Where(c => c.Batch != 1), c => Assert.Equal(2, c.Batch));
    }

    [Theory]
    [InlineData(10, 2)] // round(0.2 * 10)
    [InlineData(15, 3)]
    public void HookRunsOnlyInItsWindow(int steps, int guided)
    {
        var s = Make();
        var hook = FlowMotionHook.Create(new FlowMotionOptions { Mode = FlowMotionMode.CleanLatent, Iterations = 1 }, s.Source);
        Run(s, Options(steps), hook);
        Assert.Equal(Enumerable.Range(0, guided), hook.History.Select(r => r.Step));
        Assert.Equal(steps + guided, s.Model.Calls.Count);
        Assert.Equal((0, 10), new FlowMotionOptions().Window.Resolve(50)); // the released first 10 of 50

        var late = FlowMotionHook.Create(Guided(StepWindow.Steps(2, 3)), s.Source, s.Empty);
        Run(s, Options(), late);
        Assert.All(late.History, r => Assert.Equal(2, r.Step));
        Assert.Equal(3, late.History.Count);
    }

    /// <summary>
    /// The expected update at one guided step, computed independently: r_src by hand (the same draw from a clone of the
    /// run's generator), v without gradient, v_reg, then the gradient by the engine's autograd of the loss alone
    /// (v_reg a constant, so no model in the graph) and Adam written out.
    /// </summary>
    private static float[] ExpectedUpdate(StepContext ctx, Tensor source, Tensor empty, FlowMotionMode mode, double beta, double gamma)
    {
        double t = ctx.Sigma, t0 = ctx.Schedule.Sigmas[0];
        Tensor rSrc;
        using (GradMode.NoGrad())
        {
            if (mode == FlowMotionMode.CleanLatent) rSrc = source;
            else
            {
                var n = Tensor.Randn(ctx.Rng.Clone(), LatentShape);
                var st = Ops.Add(Ops.MulScalar(source, (float)(1 - t)), Ops.MulScalar(n, (float)t));
                rSrc = Ops.Sub(st, Ops.MulScalar(ctx.Velocity(st, empty, empty, 1.5f), (float)t)); // "" and "": CFG 1.5 = plain
            }
        }
        var z = ctx.Latent.ToArray();
        var m = new double[z.Length];
        var v2 = new double[z.Length];
        for (int it = 1; it <= 3; it++)
        {
            var zt = Tensor.FromArray(z, LatentShape);
            Tensor vReg;
            using (GradMode.NoGrad())
            {
                var v = ctx.Velocity(zt);
                var avg = VelocityRegularization.AverageVelocity(zt, ctx.InitialLatent, t, t0);
                vReg = VelocityRegularization.Apply(v, avg, gamma);
            }
            var leaf = zt.DetachedLeaf();
            var loss = FlowMotionLoss.Compute(rSrc, Ops.Sub(leaf, Ops.MulScalar(vReg, (float)t)), 20, beta);
            var g = Autograd.Grad(loss.Total, new[] { leaf })[0].ToArray();
            for (int i = 0; i < z.Length; i++)
            {
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v2[i] = 0.999 * v2[i] + 0.001 * (double)g[i] * g[i];
                double mh = m[i] / (1 - Math.Pow(0.9, it)), vh = v2[i] / (1 - Math.Pow(0.999, it));
                z[i] = (float)(z[i] - 0.003 * mh / (Math.Sqrt(vh) + 1e-8));
            }
        }
        return z;
    }

    [Theory]
    [InlineData(FlowMotionMode.CleanLatent, true, true)]
    [InlineData(FlowMotionMode.CleanLatent, false, true)]
    [InlineData(FlowMotionMode.CleanLatent, true, false)]
    [InlineData(FlowMotionMode.LatentPrediction, true, true)]
    [InlineData(FlowMotionMode.LatentPrediction, false, false)]
    public void UpdateIsAdamOnTheLossGradientAndEachAblationRemovesExactlyItsTerm(FlowMotionMode mode, bool differenceAlignment, bool velocityRegularization)
    {
        var s = Make();
        var window = StepWindow.Steps(1, 2); // step 1: the running average exists, so VR is active
        float[]? expected = null;
        bool checkedIt = false;
        // "w/o DA" must equal beta = 0 and "w/o VR" gamma = 1, with everything else unchanged
        var before = new ProbeHook(window)
        {
            Before = ctx => expected = ExpectedUpdate(ctx, s.Source, s.Empty, mode, differenceAlignment ? 5 : 0, velocityRegularization ? 0.1 : 1),
        };
        var after = new ProbeHook(window)
        {
            Before = ctx =>
            {
                var got = ctx.Latent.ToArray();
                for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(expected![i] - got[i]) <= 2e-5f, $"[{i}] expected {expected[i]}, got {got[i]}");
                checkedIt = true;
            },
        };
        var options = Guided(window, mode) with { DifferenceAlignment = differenceAlignment, VelocityRegularization = velocityRegularization };
        var hook = FlowMotionHook.Create(options, s.Source, s.Empty);
        Run(s, Options(), before, hook, after);
        Assert.True(checkedIt);
        Assert.Equal(3, hook.History.Count);
        Assert.All(hook.History, r => Assert.Equal(velocityRegularization, r.Regularized));
        Assert.All(hook.History, r => Assert.Equal(differenceAlignment, r.DifferenceAlignment > 0));
    }

    [Fact]
    public void AblationsChangeTheOutputAndTheLossFalls()
    {
        var s = Make();
        var window = StepWindow.Steps(0, 3);
        var baseOptions = Guided(window, FlowMotionMode.CleanLatent);
        var full = FlowMotionHook.Create(baseOptions, s.Source);
        var outputs = new[]
        {
            Run(s, Options(), full).ToArray(),
            Run(s, Options(), FlowMotionHook.Create(baseOptions with { DifferenceAlignment = false }, s.Source)).ToArray(),
            Run(s, Options(), FlowMotionHook.Create(baseOptions with { VelocityRegularization = false }, s.Source)).ToArray(),
            Run(s, Options()).ToArray(),
        };
        for (int i = 0; i < outputs.Length; i++)
            for (int j = i + 1; j < outputs.Length; j++) Assert.NotEqual(outputs[i], outputs[j]);
        // VR is off at step 0 (no path yet) and on after
        Assert.Equal(new[] { false, false, false, true, true, true, true, true, true }, full.History.Select(r => r.Regularized));
        foreach (var step in full.History.GroupBy(r => r.Step))
        {
            var l = step.Select(r => r.Total).ToArray();
            Assert.True(l[^1] < l[0], $"step {step.Key}: losses {string.Join(", ", l)}");
        }
    }

    [Fact]
    public void GuidancePullsTheResultTowardsTheSource()
    {
        var s = Make();
        static double Distance(float[] a, Tensor b) => a.Zip(b.ToArray(), (x, y) => (double)(x - y) * (x - y)).Sum();
        var plain = Run(s, Options(steps: 6)).ToArray();
        var guided = Run(s, Options(steps: 6), FlowMotionHook.Create(new FlowMotionOptions { Mode = FlowMotionMode.CleanLatent, LearningRate = 0.05, Window = StepWindow.Steps(0, 3) }, s.Source)).ToArray();
        Assert.True(Distance(guided, s.Source) < Distance(plain, s.Source), $"guided {Distance(guided, s.Source)}, plain {Distance(plain, s.Source)}");
    }

    [Fact]
    public void SameSeedSameOutput()
    {
        var s = Make();
        var o = Guided(StepWindow.Steps(0, 2));
        var a = Run(s, Options(), FlowMotionHook.Create(o, s.Source, s.Empty)).ToArray();
        var b = Run(s, Options(), FlowMotionHook.Create(o, s.Source, s.Empty)).ToArray();
        Assert.Equal(a, b);
        Assert.All(a, x => Assert.True(float.IsFinite(x)));
        Assert.NotEqual(a, Run(s, Options(seed: 4), FlowMotionHook.Create(o, s.Source, s.Empty)).ToArray());
        // the hook is reusable: a second run with the same instance gives the same result
        var hook = FlowMotionHook.Create(o, s.Source, s.Empty);
        Run(s, Options(), hook);
        Assert.Equal(a, Run(s, Options(), hook).ToArray());
    }

    [Fact]
    public void MissingPiecesAndBadSettingsAreNamed()
    {
        var s = Make();
        var noEmpty = FlowMotionHook.Create(Guided(StepWindow.Steps(0, 1)), s.Source); // no text encoder in this pipeline either
        var e = Assert.Throws<InvalidOperationException>(() => Run(s, Options(), noEmpty));
        Assert.Contains("empty prompt", e.Message);
        var wrong = FlowMotionHook.Create(Guided(StepWindow.Steps(0, 1)), Tensor.Zeros(1, 4, 3, 4, 4), s.Empty);
        Assert.Contains("does not match", Assert.Throws<InvalidOperationException>(() => Run(s, Options(), wrong)).Message);
        Assert.Throws<ArgumentException>(() => FlowMotionHook.Create(null, Tensor.Zeros(2, 4, 4, 4, 4)));
        Assert.Throws<ArgumentException>(() => FlowMotionHook.Create(new FlowMotionOptions { LearningRate = 0 }, s.Source));
        Assert.Throws<ArgumentException>(() => FlowMotionHook.Create(new FlowMotionOptions { Iterations = 0 }, s.Source));
        Assert.Throws<ArgumentException>(() => FlowMotionHook.Create(new FlowMotionOptions { Gamma = -1 }, s.Source));
    }
}
