using FlowGuide.Models.Wan;
using FlowGuide.Sampling;
using FlowGuide.Tensors;

namespace FlowGuide.Guidance.Tests;

[CollectionDefinition("Guidance serial memory", DisableParallelization = true)]
public class GuidanceSerialMemoryCollection { }

/// <summary>Reads the process-wide buffer counters, so it runs alone.</summary>
[Collection("Guidance serial memory")]
public class FlowMoMemoryTests
{
    [Fact]
    public void CheckpointingCutsThePeakOfAGuidedStep()
    {
        var wan = new WanTransformer3D(WanTransformerConfig.Tiny with { NumLayers = 6 }, new Rng(21));
        wan.Freeze();
        var p = new TextToVideoPipeline(wan, null, new UnusedDecoder());
        var c = Tensor.Randn(new Rng(31), 1, 5, 16);
        var u = Tensor.Randn(new Rng(32), 1, 5, 16);
        var o = new GenerationOptions { Steps = 1, Sampler = SamplerKind.Euler, GuidanceScale = 5f };
        long Peak(bool? checkpointing)
        {
            var hooks = checkpointing is { } ck
                ? new IGuidanceHook[] { new FlowMoHook(new FlowMoOptions { Window = StepWindow.All, GradientCheckpointing = ck }) }
                : Array.Empty<IGuidanceHook>();
            var z0 = Tensor.Randn(new Rng(1), 1, 4, 4, 16, 16); // 256 tokens per CFG pass
            p.Denoise(z0, c, u, o, new Rng(2), hooks); // warm
            long before = BufferPool.LiveBytes;
            BufferPool.ResetPeak();
            p.Denoise(z0, c, u, o, new Rng(2), hooks).Dispose();
            return BufferPool.PeakLiveBytes - before;
        }
        long plain = Peak(null), full = Peak(false), ckpt = Peak(true);
        Assert.True(ckpt < 0.5 * full, $"guided step peak: {ckpt} bytes with checkpointing, {full} without (plain step {plain})");
        Assert.False(wan.GradientCheckpointing);
    }
}
