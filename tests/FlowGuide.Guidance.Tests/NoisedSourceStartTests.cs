using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

/// <summary>The naive baseline: sampling starts at step round((1 - strength) N) from the source noised with the run's own noise.</summary>
public class NoisedSourceStartTests
{
    private static readonly int[] LatentShape = { 1, 4, 4, 4, 4 };

    private static (TextToVideoPipeline Pipeline, CountingModel Model, Tensor Cond, Tensor Uncond, Tensor Source) Make()
    {
        var wan = new WanTransformer3D(WanTransformerConfig.Tiny, new Rng(21));
        wan.Freeze();
        var model = new CountingModel(wan);
        return (new TextToVideoPipeline(model, null, new UnusedDecoder()), model, Tensor.Randn(new Rng(31), 1, 5, 16),
            Tensor.Randn(new Rng(32), 1, 5, 16), Tensor.Randn(new Rng(34), LatentShape));
    }

    private static Tensor Run(TextToVideoPipeline p, Tensor c, Tensor u, SamplerKind sampler, int steps, params IGuidanceHook[] hooks)
    {
        var o = new GenerationOptions { Steps = steps, Sampler = sampler, GuidanceScale = 5f, Seed = 3 };
        var rng = new Rng(o.Seed);
        return p.Denoise(Tensor.Randn(rng, LatentShape), c, u, o, rng, hooks);
    }

    [Theory]
    [InlineData(SamplerKind.Euler)]
    [InlineData(SamplerKind.UniPc)]
    public void SamplingStartsAtTheNoisedSourceWithoutModelCallsBefore(SamplerKind sampler)
    {
        var (p, model, c, u, x) = Make();
        var start = new NoisedSourceStart(x, 0.5);
        Assert.Equal(3, start.StartStep(6));
        bool checkedIt = false;
        var probe = new ProbeHook(StepWindow.Steps(3, 4))
        {
            Before = ctx =>
            {
                var got = ctx.Latent.ToArray();
                float t = (float)ctx.Sigma;
                var zT = ctx.InitialLatent.ToArray();
                var xs = x.ToArray();
                for (int i = 0; i < got.Length; i++) Assert.Equal((1 - t) * xs[i] + t * zT[i], got[i], 5);
                checkedIt = true;
            },
        };
        var result = Run(p, c, u, sampler, 6, start, probe);
        Assert.True(checkedIt);
        Assert.Equal(3, model.Calls.Count); // steps 3, 4, 5 only
        Assert.All(result.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void StrengthZeroReturnsTheSourceAndOneIsPlainGeneration()
    {
        var (p, _, c, u, x) = Make();
        var zero = Run(p, c, u, SamplerKind.Euler, 4, new NoisedSourceStart(x, 0)).ToArray();
        var xs = x.ToArray();
        for (int i = 0; i < xs.Length; i++) Assert.Equal(xs[i], zero[i], 5);
        Assert.Equal(Run(p, c, u, SamplerKind.UniPc, 4).ToArray(), Run(p, c, u, SamplerKind.UniPc, 4, new NoisedSourceStart(x, 1)).ToArray());
        Assert.Throws<ArgumentException>(() => new NoisedSourceStart(x, 1.2));
        Assert.Throws<ArgumentException>(() => new NoisedSourceStart(Tensor.Zeros(4, 4, 4, 4), 0.5));
    }
}
