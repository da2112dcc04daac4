using FlowGuide.Models;
using FlowGuide.Models.Wan;
using FlowGuide.Tensors;

namespace FlowGuide.Sampling.Tests;

/// <summary>The pipeline with a real (Tiny) Wan2.1 transformer: text width 16 = the Tiny word encoder's, 4 latent channels = the fake decoder's.</summary>
public class WanPipelineTests
{
    private sealed class WanVelocity(WanTransformer3D model) : IVelocityModel
    {
        public int Calls;
        public Tensor Forward(Tensor latent, Tensor timestep, Tensor context) { Calls++; return model.Forward(latent, timestep, context); }
    }

    private static (TextToVideoPipeline, WanVelocity) Pipeline()
    {
        var wan = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(21));
        wan.Freeze();
        var v = new WanVelocity(wan);
        return (new TextToVideoPipeline(v, Fakes.Encoder(), new FakeDecoder()), v);
    }

    [Fact]
    public void TinyWanGeneratesDeterministically()
    {
        var (p, v) = Pipeline();
        var a = p.Generate("a cat runs left", Fakes.Small(steps: 4));
        Assert.Equal(4, v.Calls); // batched CFG: one call per step
        var b = p.Generate("a cat runs left", Fakes.Small(steps: 4) with { BatchCfg = false });
        Assert.Equal(4 + 8, v.Calls);
        var av = a.Latent.ToArray();
        var bv = b.Latent.ToArray();
        for (int k = 0; k < av.Length; k++) Assert.Equal(av[k], bv[k], 1e-4f);
        Assert.All(av, x => Assert.True(float.IsFinite(x)));
        Assert.Equal(av, p.Generate("a cat runs left", Fakes.Small(steps: 4)).Latent.ToArray());
    }

    [Fact]
    public void GradientThroughTinyWanMatchesFiniteDifferences()
    {
        var (p, _) = Pipeline();
        bool ran = false;
        var hook = new LoggingHook("g", new(), StepWindow.Steps(1, 2))
        {
            Before = ctx =>
            {
                var z = ctx.Latent.DetachedLeaf();
                Tensor Loss(Tensor x) => Ops.Sum(Ops.Square(ctx.Velocity(x)));
                var g = Autograd.Grad(Loss(z), new[] { z })[0];
                var dir = Tensor.Randn(new Rng(5), z.Shape.ToArray());
                double analytic = 0;
                for (int k = 0; k < dir.Numel; k++) analytic += (double)g.Span[k] * dir.Span[k];
                double Eval(float e) { using var _ = GradMode.NoGrad(); return Loss(Ops.Add(ctx.Latent, Ops.MulScalar(dir, e))).Item(); }
                const float eps = 1e-2f;
                double fd = (Eval(eps) - Eval(-eps)) / (2 * eps);
                Assert.True(Math.Abs(fd - analytic) <= 1e-2 * Math.Abs(fd) + 1e-3, $"directional derivative: autograd {analytic}, finite difference {fd}");
                ran = true;
                return null;
            },
        };
        p.Generate("a dog jumps", Fakes.Small(steps: 3), new[] { hook });
        Assert.True(ran);
    }
}
