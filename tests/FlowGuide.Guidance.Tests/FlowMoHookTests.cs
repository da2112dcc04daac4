using FlowGuide.Models;
using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>Decoding is never needed here (the tests call Denoise); it only satisfies the pipeline's constructor.</summary>
internal sealed class UnusedDecoder : IVideoDecoder
{
    public int LatentChannels => 4;
    public int TemporalFactor => 4;
    public int SpatialFactor => 8;
    public Tensor Decode(Tensor latent) => throw new NotSupportedException("UnusedDecoder: the tests denoise only.");
}

/// <summary>Runs callbacks at BeforeModel / AfterPrediction; placed before or after the FlowMo hook to observe it.</summary>
internal sealed class ProbeHook(StepWindow window) : GuidanceHook(window)
{
    public Action<StepContext>? Before { get; init; }
    public Action<StepContext, Tensor>? Prediction { get; init; }

    public override LatentUpdate? BeforeModel(StepContext context) { Before?.Invoke(context); return null; }

    public override Tensor? AfterPrediction(StepContext context, Tensor velocity, Tensor predictedX0)
    {
        Prediction?.Invoke(context, velocity);
        return null;
    }
}

/// <summary>FlowMo through the real pipeline with a Tiny Wan2.1 transformer (frozen) on a [1, 4, 4, 4, 4] latent.</summary>
public class FlowMoHookTests
{
    private static readonly int[] LatentShape = { 1, 4, 4, 4, 4 };

    private static (TextToVideoPipeline Pipeline, WanTransformer3D Wan, Tensor Cond, Tensor Uncond) Setup()
    {
        var wan = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(21));
        wan.Freeze();
        var cond = Tensor.Randn(new Rng(31), 1, 5, 16);
        var uncond = Tensor.Randn(new Rng(32), 1, 5, 16);
        return (new TextToVideoPipeline(wan, null, new UnusedDecoder()), wan, cond, uncond);
    }

    private static GenerationOptions Options(int steps = 4, ulong seed = 3) =>
        new() { Steps = steps, Sampler = SamplerKind.Euler, GuidanceScale = 5f, Seed = seed };

    private static Tensor Run(TextToVideoPipeline p, Tensor cond, Tensor uncond, GenerationOptions o, params IGuidanceHook[] hooks)
    {
        var rng = new Rng(o.Seed);
        var noise = Tensor.Randn(rng, LatentShape);
        return p.Denoise(noise, cond, uncond, o, rng, hooks);
    }

    private static float[] Eval(Func<Tensor> f) { using var _ = GradMode.NoGrad(); return f().ToArray(); }

    [Fact]
    public void GuidedStepLowersTheLossAtTheNewLatent()
    {
        var (p, _, c, u) = Setup();
        var flowmo = new FlowMoHook(new FlowMoOptions { Window = StepWindow.Steps(0, 3) });
        var after = new List<double>();
        var probe = new ProbeHook(StepWindow.Steps(0, 3))
        {
            Before = ctx => { using var _ = GradMode.NoGrad(); after.Add(FlowMoLoss.Compute(ctx.Velocity(ctx.Latent)).Item()); },
        };
        Run(p, c, u, Options(), flowmo, probe);
        Assert.Equal(3, flowmo.History.Count);
        for (int i = 0; i < 3; i++)
            Assert.True(after[i] < flowmo.History[i].Loss, $"step {i}: loss {flowmo.History[i].Loss} before the update, {after[i]} after");
    }

    [Theory]
    [InlineData(10, 2)]  // round(0.24 * 10) = 2
    [InlineData(50, 12)] // the released first 12 of 50
    public void DefaultWindowIsTheFirstQuarterOfTheRun(int steps, int guided)
    {
        var (p, _, c, u) = Setup();
        var flowmo = new FlowMoHook();
        Run(p, c, u, Options(steps), flowmo);
        Assert.Equal(Enumerable.Range(0, guided), flowmo.History.Select(r => r.Step));
    }

    [Fact]
    public void SameSeedSameResultAndGuidanceChangesIt()
    {
        var (p, wan, c, u) = Setup();
        var all = new FlowMoOptions { Window = StepWindow.All };
        var a = Run(p, c, u, Options(), new FlowMoHook(all)).ToArray();
        var b = Run(p, c, u, Options(), new FlowMoHook(all)).ToArray();
        Assert.Equal(a, b);
        Assert.All(a, x => Assert.True(float.IsFinite(x)));
        Assert.NotEqual(Run(p, c, u, Options()).ToArray(), a);
        Assert.NotEqual(Run(p, c, u, Options(seed: 4), new FlowMoHook(all)).ToArray(), a);
        // checkpointing is an implementation detail: same result within float noise, and the model's flag is restored
        var noCkpt = Run(p, c, u, Options(), new FlowMoHook(all with { GradientCheckpointing = false })).ToArray();
        for (int k = 0; k < a.Length; k++) Assert.Equal(a[k], noCkpt[k], 1e-4f);
        Assert.False(wan.GradientCheckpointing);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RecomputeOffStepsWithThePreUpdateVelocity(bool recompute)
    {
        var (p, _, c, u) = Setup();
        var window = StepWindow.Steps(1, 2);
        Tensor? original = null;
        bool checkedIt = false;
        var before = new ProbeHook(window) { Before = ctx => original = ctx.Latent.Clone() };
        var observe = new ProbeHook(window)
        {
            Prediction = (ctx, v) =>
            {
                var vOld = Eval(() => ctx.Velocity(original!));
                var vNew = Eval(() => ctx.Velocity(ctx.Latent));
                Assert.NotEqual(vOld, vNew);
                var expected = recompute ? vNew : vOld;
                var got = v.ToArray();
                for (int k = 0; k < got.Length; k++) Assert.Equal(expected[k], got[k], 1e-5f);
                checkedIt = true;
            },
        };
        Run(p, c, u, Options(), before, new FlowMoHook(new FlowMoOptions { Window = window, RecomputeAfterUpdate = recompute }), observe);
        Assert.True(checkedIt);
    }

    [Theory]
    [InlineData(FlowMoOptimizer.AdamOneStep)]
    [InlineData(FlowMoOptimizer.GradientDescent)]
    public void UpdateIsTheOptimizerStepOnTheLossGradient(FlowMoOptimizer optimizer)
    {
        var (p, _, c, u) = Setup();
        var window = StepWindow.Steps(0, 1);
        const double lr = 1e-3;
        float[]? z0 = null, grad = null;
        bool checkedIt = false;
        var before = new ProbeHook(window)
        {
            Before = ctx =>
            {
                z0 = ctx.Latent.ToArray();
                var z = ctx.Latent.DetachedLeaf();
                grad = Autograd.Grad(FlowMoLoss.Compute(ctx.Velocity(z)), new[] { z })[0].ToArray();
            },
        };
        var after = new ProbeHook(window)
        {
            Before = ctx =>
            {
                var z1 = ctx.Latent.ToArray();
                int moved = 0;
                for (int k = 0; k < z1.Length; k++)
                {
                    double delta = (double)z1[k] - z0![k];
                    if (optimizer == FlowMoOptimizer.AdamOneStep)
                    {
                        // ~ -lr * sign(g): magnitude lr wherever the gradient is not negligible against eps = 1e-8
                        double expected = -lr * grad![k] / (Math.Abs(grad[k]) + 1e-8);
                        Assert.Equal(expected, delta, 1e-6);
                        if (Math.Abs(grad[k]) > 1e-4) { Assert.Equal(lr, Math.Abs(delta), 1e-6); moved++; }
                    }
                    else
                    {
                        Assert.Equal(-lr * grad![k], delta, 1e-6 + 1e-3 * lr * Math.Abs(grad[k]));
                        if (grad[k] != 0) moved++;
                    }
                }
                Assert.True(moved > z1.Length / 2, $"only {moved} of {z1.Length} latent elements moved");
                checkedIt = true;
            },
        };
        var flowmo = new FlowMoHook(new FlowMoOptions { Window = window, Optimizer = optimizer, LearningRate = lr });
        Run(p, c, u, Options(), before, flowmo, after);
        Assert.True(checkedIt);
    }

    [Fact]
    public void WeightsGetNoGradientsAndMoreIterationsLowerTheLossFurther()
    {
        var (p, wan, c, u) = Setup();
        var flowmo = new FlowMoHook(new FlowMoOptions { Window = StepWindow.Steps(0, 1), Iterations = 3, LearningRate = 5e-3 });
        Run(p, c, u, Options(steps: 2), flowmo);
        Assert.All(wan.Parameters(), w => { Assert.False(w.RequiresGrad); Assert.Null(w.Grad); });
        Assert.Equal(new[] { 0, 1, 2 }, flowmo.History.Select(r => r.Iteration));
        Assert.True(flowmo.History[2].Loss < flowmo.History[0].Loss, string.Join(", ", flowmo.History.Select(r => r.Loss)));
    }

    [Fact]
    public void InvalidOptionsThrow()
    {
        Assert.Throws<ArgumentException>(() => new FlowMoHook(new FlowMoOptions { LearningRate = 0 }));
        Assert.Throws<ArgumentException>(() => new FlowMoHook(new FlowMoOptions { Iterations = 0 }));
        Assert.Throws<ArgumentException>(() => new FlowMoHook(new FlowMoOptions { Beta2 = 1 }));
        Assert.Equal((0, 12), new FlowMoOptions().Window.Resolve(50));
    }
}
